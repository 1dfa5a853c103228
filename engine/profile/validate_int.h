/* Private to engine/profile/validate*.c: the validation context and the
 * typed member getters (validate_json.c) the schema walk (validate.c,
 * validate_key.c, validate_file.c) uses. */
#ifndef DFI_PROFILE_VALIDATE_INT_H
#define DFI_PROFILE_VALIDATE_INT_H

#include <jansson.h>

#include "profile_int.h"

#define SCHEMA_ID "dfissue-profile/1"
#define PATH_MAX_LEN DFI_DIAG_FIELD_MAX
#define NAME_MAX_LEN 64
#define URI_MAX_LEN 1024
#define MAX_SEGMENTS 32
#define MAX_DIV_ITEMS 16

struct vctx {
	struct dfi_profile *p;
	const dfi_linemap *lm;
	const char *file;
	struct dfi_diag *diag;
	size_t memory; /* card memory the files need so far */
};

#define verr(c, path, ...) pv_verr_at((c), (path), (path), __VA_ARGS__)

/* A name from a fixed set, and what it stands for. */
struct choice {
	const char *name; /* NULL ends a table */
	int value;
	size_t width; /* formats: bytes, 0 when variable */
};

__attribute__((format(printf, 4, 5))) dfi_err pv_verr_at(struct vctx *c, const char *lookup, const char *shown, const char *fmt, ...);
dfi_err pv_nomem(void);
void pv_path_cat(char *out, const char *a, const char *b, const char *c);
void pv_join(char *out, const char *base, const char *key);
void pv_join_idx(char *out, const char *base, size_t i);
dfi_err pv_check_members(struct vctx *c, json_t *obj, const char *path, const char *const *allowed,
    const char *what);
dfi_err pv_member_at(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    json_t **v, char p[PATH_MAX_LEN]);
dfi_err pv_member(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    json_t **v);
/* The JSON types a member can be asked to have (validate_json.c words each). */
enum pv_kind { PV_OBJECT, PV_ARRAY, PV_STRING, PV_BOOL };
/* v must be of kind k; the error says what it is instead. */
dfi_err pv_want(struct vctx *c, json_t *v, const char *path, enum pv_kind k);
dfi_err pv_want_object(struct vctx *c, json_t *v, const char *path);
/* pv_member_at, then pv_want on the member when it is there. */
dfi_err pv_get_typed(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    enum pv_kind k, json_t **v, char p[PATH_MAX_LEN]);
/* v must be an array of min..max elements. Every array of a profile is
 * parsed into a table of one entry per element: returns that table (elem
 * bytes an entry, zeroed, owned by the profile) and the count in *n, or
 * NULL with *e set (and the diagnostic recorded). */
void *pv_array_table(struct vctx *c, json_t *v, const char *path, size_t min, size_t max,
    size_t elem, size_t *n, dfi_err *e);
dfi_err pv_int_range(struct vctx *c, json_t *v, const char *path, long long min, long long max,
    long long *out);
dfi_err pv_get_int(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    long long min, long long max, long long def, long long *out);
dfi_err pv_get_bool(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    int def, int *out);
dfi_err pv_get_string(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    size_t maxlen, const char **out);
dfi_err pv_get_choice(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    const struct choice *tbl, const char *allowed, const struct choice **out);
dfi_err pv_get_keytype(struct vctx *c, json_t *obj, const char *path, const char *key, dfi_keytype *out);
dfi_err pv_get_owned_string(struct vctx *c, json_t *obj, const char *path, const char *key,
    int required, size_t maxlen, const char **out);
dfi_err pv_hex_bytes(struct vctx *c, const char *hex, const char *path, size_t max, uint8_t **out,
    size_t *len);
/* A required PKCS#11 URI member (a key's base_key or key), copied into the
 * profile; its syntax is checked here, the key it names in the HSM layer. */
dfi_err pv_get_uri(struct vctx *c, json_t *obj, const char *path, const char *key,
    const char **out);
/* validate_sm.c: "secure_messaging" into s, and (once the keys are parsed)
 * the keys it needs ("lrp": AES only). */
dfi_err pv_secure_messaging(struct vctx *c, json_t *root, struct dfi_profile_spec *s);
dfi_err pv_secure_messaging_keys(struct vctx *c, const struct dfi_profile_spec *s);
/* validate_sdm.c: the "sdm" members of data files, once the rest of the
 * profile is valid (they refer to its keys and secure messaging). */
dfi_err pv_validate_sdm(struct vctx *c, json_t *root);

/* The schema walk's parts in their own files (validate_key.c, validate_file.c). */
/* Which key parse_key reads: an application's (its type is the
 * application's), the PICC master key, or the diversified transport key
 * (PICC members, but the key a card arrives with: any version 0..255). */
enum pv_key_role { PV_KEY_APP, PV_KEY_PICC, PV_KEY_TRANSPORT };
dfi_err parse_key(struct vctx *c, json_t *v, const char *path, enum pv_key_role role, int uid_key,
    dfi_keytype type, uint8_t number, struct dfi_profile_key *k);
dfi_err parse_key_settings(struct vctx *c, json_t *v, const char *path, int is_app, size_t nkeys,
    uint8_t *out);
dfi_err parse_file(struct vctx *c, json_t *v, const char *path, size_t nkeys,
    struct dfi_profile_file *f);

#endif
