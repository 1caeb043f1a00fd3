#ifndef RNNKIT_CLIBFUZZER_SHIM_H
#define RNNKIT_CLIBFUZZER_SHIM_H
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt, FuzzerDriver.cpp), linked in by -sanitize=fuzzer. SwiftPM
   renames an executable's entry point to <Module>_main, so libFuzzer's own main never runs;
   each harness's @main calls this instead. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
