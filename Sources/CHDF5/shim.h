#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>
#include <string.h>

// libhdf5 exposes these as macros (often expanding to H5open() plus a global), which Swift
// cannot import. Every symbol carries the module prefix.
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t chdf5_t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_t_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t chdf5_t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_t_native_hbool(void) { return H5T_NATIVE_HBOOL; }
static inline hid_t chdf5_t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_t_std_i8le(void) { return H5T_STD_I8LE; }
static inline hid_t chdf5_t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t chdf5_t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_t_c_s1(void) { return H5T_C_S1; }
static inline hsize_t chdf5_s_unlimited(void) { return H5S_UNLIMITED; }
static inline H5O_type_t chdf5_o_type_group(void) { return H5O_TYPE_GROUP; }

static inline hid_t chdf5_p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }
static inline haddr_t chdf5_haddr_undef(void) { return HADDR_UNDEF; }

// What the restricted reading profile needs to know about an object, the same on libhdf5 1.10
// (object address) and 1.12+ (object token): its type, an identity to detect objects reached
// twice, and its attribute count. Returns a negative value on failure, like libhdf5.
typedef struct chdf5_object_info_t {
    H5O_type_t type;
    unsigned char identity[16];
    unsigned long long num_attrs;
} chdf5_object_info_t;

static inline herr_t chdf5_object_info(hid_t loc, const char *name, chdf5_object_info_t *out) {
    memset(out, 0, sizeof(*out));
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    herr_t status = H5Oget_info_by_name3(loc, name, &info, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS, H5P_DEFAULT);
    if (status < 0) return status;
    memcpy(out->identity, &info.token, sizeof(info.token) < 16 ? sizeof(info.token) : 16);
#else
    H5O_info_t info;
    herr_t status = H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS, H5P_DEFAULT);
    if (status < 0) return status;
    memcpy(out->identity, &info.addr, sizeof(info.addr));
#endif
    out->type = info.type;
    out->num_attrs = (unsigned long long)info.num_attrs;
    return status;
}

// The type of the link `name` in group `loc` (hard, soft, external, user-defined), without
// following it. Returns H5L_TYPE_ERROR on failure.
static inline H5L_type_t chdf5_link_type(hid_t loc, const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    if (H5Lget_info2(loc, name, &info, H5P_DEFAULT) < 0) return H5L_TYPE_ERROR;
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return H5L_TYPE_ERROR;
#endif
    return info.type;
}

// Where the hard link `name` in group `loc` points, without loading the target's object header:
// the object address (1.10) or token (1.12+), in the same 16 bytes as chdf5_object_info_t's
// identity. Returns a negative value on failure or when the link is not a hard link.
static inline herr_t chdf5_link_target(hid_t loc, const char *name, unsigned char identity[16]) {
    memset(identity, 0, 16);
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    if (H5Lget_info2(loc, name, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_HARD) return -1;
    memcpy(identity, &info.u.token, sizeof(info.u.token) < 16 ? sizeof(info.u.token) : 16);
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_HARD) return -1;
    memcpy(identity, &info.u.address, sizeof(info.u.address));
#endif
    return 0;
}

#endif
