/*
 * trim.h: white space off both ends of a line read from a file.
 *
 * The "key: value" and "key = value" files the engine and the CLI read
 * (p11-kit module files, CLI configuration files) are split and trimmed
 * the same way; one function keeps their notion of white space the same.
 */
#ifndef DFI_CORE_TRIM_H
#define DFI_CORE_TRIM_H

/* Cuts trailing white space off s in place and returns s past its leading
 * white space (isspace(3) in the C locale's sense). */
char *dfi_trim(char *s);

#endif
