import CRNNKernels
import Testing
import _RNNKitTestSupport

/// The SHA-256 block function's two paths (SHA extensions, plain C) against each other and the
/// FIPS 180-4 "abc" example; RNNFormatTests checks the full hasher on the FIPS vectors.
@Suite struct KernelSHA256Tests {
    static let initial: [UInt32] = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]

    static func compress(_ data: [UInt8], portable: Bool) -> [UInt32] {
        var state = initial
        state.withUnsafeMutableBufferPointer { s in
            data.withUnsafeBufferPointer { d in
                if portable {
                    crnn_sha256_blocks_portable(s.baseAddress, d.baseAddress, d.count / 64)
                } else {
                    crnn_sha256_blocks(s.baseAddress, d.baseAddress, d.count / 64)
                }
            }
        }
        return state
    }

    @Test(arguments: [false, true])
    func abcBlock(portable: Bool) {
        // "abc", 0x80, zeros, bit length 24: one padded block.
        var block = [UInt8](repeating: 0, count: 64)
        block[0] = 0x61; block[1] = 0x62; block[2] = 0x63; block[3] = 0x80; block[63] = 24
        #expect(Self.compress(block, portable: portable)
                == [0xba78_16bf, 0x8f01_cfea, 0x4141_40de, 0x5dae_2223, 0xb003_61a3, 0x9617_7a9c, 0xb410_ff61, 0xf200_15ad])
    }

    @Test(arguments: [1, 2, 3, 17, 1000])
    func pathsAgree(blocks: Int) {
        var rng = SeededGenerator(seed: UInt64(blocks))
        let data = (0..<64 * blocks).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(Self.compress(data, portable: false) == Self.compress(data, portable: true))
    }
}
