/*
 * dfissue — the library's version, for programs linked against the shared
 * libdfissue.so (pkg-config --modversion dfissue gives the same string).
 */
#ifndef DFISSUE_VERSION_H
#define DFISSUE_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* The release of the library this program runs with ("0.2.0"; the ABI is
 * libdfissue.so's SONAME number, counted apart: README); a static string,
 * never NULL. */
const char *dfi_version(void);

#ifdef __cplusplus
}
#endif
#endif
