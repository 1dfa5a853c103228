/* Diagnostics shared by the profile loader and the batch readers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dfissue/util.h"
#include "profile_int.h"

static void
copy_trunc(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
append(char *dst, size_t cap, size_t *len, const char *src)
{
	size_t n = strlen(src);
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(dst + *len, src, n);
	*len += n;
	dst[*len] = '\0';
}

void
dfi_diag_clear(struct dfi_diag *diag)
{
	if (diag != NULL)
		memset(diag, 0, sizeof(*diag));
}

dfi_err
dfi_diag_vset(struct dfi_diag *diag, const char *file, int line, int column,
    const char *field, const char *fmt, va_list ap)
{
	if (diag == NULL)
		return DFI_E_PROFILE;
	char text[DFI_DIAG_MESSAGE_MAX];
	vsnprintf(text, sizeof(text), fmt, ap);
	dfi_diag_clear(diag);
	copy_trunc(diag->file, sizeof(diag->file), file != NULL ? file : "");
	copy_trunc(diag->field, sizeof(diag->field), field != NULL ? field : "");
	diag->line = line;
	diag->column = column;

	/* Assembled piecewise: truncation of an overlong report is intended. */
	size_t cap = sizeof(diag->message), n = 0;
	if (diag->file[0] != '\0' || line > 0) {
		append(diag->message, cap, &n, diag->file);
		if (line > 0) {
			char num[16];
			snprintf(num, sizeof(num), ":%d", line);
			append(diag->message, cap, &n, num);
		}
		append(diag->message, cap, &n, ": ");
	}
	if (diag->field[0] != '\0') {
		append(diag->message, cap, &n, diag->field);
		append(diag->message, cap, &n, ": ");
	}
	append(diag->message, cap, &n, text);
	return DFI_E_PROFILE;
}

dfi_err
dfi_diag_set(struct dfi_diag *diag, const char *file, int line, int column,
    const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dfi_err e = dfi_diag_vset(diag, file, line, column, field, fmt, ap);
	va_end(ap);
	return e;
}

int
dfi_field_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > DFI_FIELD_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

dfi_err
dfi_read_file(const char *path, size_t max, char **buf, size_t *len, struct dfi_diag *diag)
{
	*buf = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		dfi_diag_set(diag, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
		return DFI_E_IO;
	}
	/* Unbuffered: fread reads into p, which the caller wipes; a stdio
	 * buffer would hold a batch file's rows too, and fclose frees it as
	 * it is (test_cli_json_wipe found them there). */
	setvbuf(f, NULL, _IONBF, 0);
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		dfi_diag_set(diag, path, 0, 0, NULL, "not a regular file");
		return DFI_E_IO;
	}
	if ((unsigned long long)st.st_size > max) {
		fclose(f);
		dfi_diag_set(diag, path, 0, 0, NULL, "file too large (%lld bytes, at most %zu)",
		    (long long)st.st_size, max);
		return DFI_E_PROFILE;
	}
	size_t cap = (size_t)st.st_size + 1;
	char *p = malloc(cap);
	if (p == NULL) {
		fclose(f);
		return DFI_E_NOMEM;
	}
	size_t n = fread(p, 1, cap - 1, f);
	int err = ferror(f) || getc(f) != EOF; /* grew while we read: refuse */
	fclose(f);
	if (err) {
		dfi_wipe(p, n); /* a batch file's rows, read in part */
		free(p);
		dfi_diag_set(diag, path, 0, 0, NULL, "read failed or file changed while reading");
		return DFI_E_IO;
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return DFI_OK;
}
