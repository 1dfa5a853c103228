/*
 * Secure Dynamic Messaging file settings (DESFire EV3, NTAG 424 DNA):
 * the rules a card applies to them, their encoding after the access rights
 * of ChangeFileSettings and GetFileSettings, and the command itself.
 *
 * Layout (NXP AN12196 Table 18 and the GetFileSettings example; the
 * Proxmark3 and NXP reader library builders agree): SDMOptions (1) ||
 * SDMAccessRights (2: RFU|SDMCtrRet, SDMMetaRead|SDMFileRead) || UIDOffset
 * || SDMReadCtrOffset || PICCDataOffset || SDMMACInputOffset ||
 * SDMENCOffset || SDMENCLength || SDMMACOffset || SDMReadCtrLimit, each
 * offset 3 bytes little-endian and present only when the options and
 * rights call for it.
 */
#include <stdio.h>
#include <string.h>

#include "desfire_int.h"

#define OPT_KNOWN (DFI_DF_SDM_UID | DFI_DF_SDM_CTR | DFI_DF_SDM_CTR_LIMIT | DFI_DF_SDM_ENC | \
	DFI_DF_SDM_ASCII)

/* Which fields follow the access rights. */
struct present {
	int uid, ctr, picc, mac, enc, limit;
};

static int
is_key(uint8_t r)
{
	return r <= 0x0D;
}

static void
fields(const struct dfi_df_sdm *s, struct present *p)
{
	p->uid = s->meta_read == 0xE && (s->options & DFI_DF_SDM_UID);
	p->ctr = s->meta_read == 0xE && (s->options & DFI_DF_SDM_CTR);
	p->picc = is_key(s->meta_read);
	p->mac = is_key(s->file_read);
	p->enc = p->mac && (s->options & DFI_DF_SDM_ENC);
	p->limit = (s->options & DFI_DF_SDM_CTR_LIMIT) != 0;
}

static dfi_err
bad(char *why, size_t cap, const char *msg)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s", msg);
	return DFI_E_INVALID_ARG;
}

/* One mirrored field for the overlap check. */
struct span {
	uint32_t at, len;
	const char *name;
};

dfi_err
dfi_df_sdm_validate(const struct dfi_df_sdm *s, uint32_t size, int lrp, char *why, size_t cap)
{
	struct present p;
	struct span sp[5];
	size_t n = 0;
	char msg[128];

	if (s == NULL)
		return DFI_E_INVALID_ARG;
	if (s->options & ~OPT_KNOWN)
		return bad(why, cap, "unknown SDM option bits");
	if (!(s->options & DFI_DF_SDM_ASCII))
		return bad(why, cap, "SDM needs ASCII encoding (option bit 0)");
	if (s->ctr_ret > 0xF || s->meta_read > 0xF || s->file_read > 0xF)
		return bad(why, cap, "SDM access rights are 4-bit values");
	if (!is_key(s->ctr_ret) && s->ctr_ret < 0xE)
		return bad(why, cap, "SDMCtrRet must be a key number, free (E) or none (F)");
	if (!is_key(s->meta_read) && s->meta_read < 0xE)
		return bad(why, cap, "SDMMetaRead must be a key number, plain (E) or none (F)");
	if (!is_key(s->file_read) && s->file_read != 0xF)
		return bad(why, cap, "SDMFileRead must be a key number or none (F)");
	fields(s, &p);
	if (s->meta_read == 0xF && (s->options & (DFI_DF_SDM_UID | DFI_DF_SDM_CTR)))
		return bad(why, cap, "UID or counter mirroring needs SDMMetaRead (plain or a key)");
	if (p.picc && !(s->options & (DFI_DF_SDM_UID | DFI_DF_SDM_CTR)))
		return bad(why, cap, "encrypted PICC data mirrors the UID, the counter or both");
	if ((s->options & DFI_DF_SDM_ENC) &&
	    (!p.mac || (s->options & (DFI_DF_SDM_UID | DFI_DF_SDM_CTR)) !=
	    (DFI_DF_SDM_UID | DFI_DF_SDM_CTR)))
		return bad(why, cap, "encrypted file data needs SDMFileRead and both UID and counter mirrored");
	if (p.limit && s->ctr_limit > 0xFFFFFF)
		return bad(why, cap, "SDMReadCtrLimit is 24 bits");
	if (p.uid)
		sp[n++] = (struct span){ s->uid_offset, 14, "UID" };
	if (p.ctr)
		sp[n++] = (struct span){ s->ctr_offset, 6, "counter" };
	if (p.picc)
		sp[n++] = (struct span){ s->picc_offset, lrp ? 48 : 32, "PICC data" };
	if (p.enc) {
		if (s->enc_length < 32 || s->enc_length % 32 != 0)
			return bad(why, cap, "SDMENCLength must be a multiple of 32 (16-byte blocks as hex)");
		sp[n++] = (struct span){ s->enc_offset, s->enc_length, "encrypted data" };
	}
	if (p.mac) {
		sp[n++] = (struct span){ s->mac_offset, 16, "MAC" };
		if (s->mac_input_offset > s->mac_offset)
			return bad(why, cap, "SDMMACInputOffset lies after SDMMACOffset");
		if (p.enc && (s->enc_offset < s->mac_input_offset ||
		    (uint64_t)s->enc_offset + s->enc_length > s->mac_offset))
			return bad(why, cap, "the encrypted data must lie inside the MAC input");
	}
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)sp[i].at + sp[i].len > size || sp[i].at > 0xFFFFFF) {
			snprintf(msg, sizeof(msg), "the %s mirror (%u characters at %u) ends beyond the "
			    "file (%u bytes)", sp[i].name, sp[i].len, sp[i].at, size);
			return bad(why, cap, msg);
		}
		for (size_t j = 0; j < i; j++)
			if (sp[i].at < sp[j].at + sp[j].len && sp[j].at < sp[i].at + sp[i].len) {
				snprintf(msg, sizeof(msg), "the %s and %s mirrors overlap", sp[j].name,
				    sp[i].name);
				return bad(why, cap, msg);
			}
	}
	return DFI_OK;
}

dfi_err
dfi_df_sdm_encode(const struct dfi_df_sdm *s, uint8_t *out, size_t cap, size_t *len)
{
	struct present p;
	dfi_wr w;
	if (s == NULL || out == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	fields(s, &p);
	dfi_wr_init(&w, out, cap);
	dfi_wr_u8(&w, s->options);
	dfi_wr_u8(&w, (uint8_t)(0xF0 | (s->ctr_ret & 0x0F)));
	dfi_wr_u8(&w, (uint8_t)((s->meta_read & 0x0F) << 4 | (s->file_read & 0x0F)));
	if (p.uid)
		dfi_wr_le24(&w, s->uid_offset);
	if (p.ctr)
		dfi_wr_le24(&w, s->ctr_offset);
	if (p.picc)
		dfi_wr_le24(&w, s->picc_offset);
	if (p.mac) {
		dfi_wr_le24(&w, s->mac_input_offset);
		if (p.enc) {
			dfi_wr_le24(&w, s->enc_offset);
			dfi_wr_le24(&w, s->enc_length);
		}
		dfi_wr_le24(&w, s->mac_offset);
	}
	if (p.limit)
		dfi_wr_le24(&w, s->ctr_limit);
	if (w.err != DFI_OK)
		return w.err;
	*len = w.len;
	return DFI_OK;
}

#define RD(x) do { if ((e = (x)) != DFI_OK) return e; } while (0)

dfi_err
df_parse_sdm(dfi_rd *r, struct dfi_df_sdm *s)
{
	struct present p;
	uint8_t a0, a1;
	dfi_err e;

	memset(s, 0, sizeof(*s));
	RD(dfi_rd_u8(r, &s->options));
	RD(dfi_rd_u8(r, &a0));
	RD(dfi_rd_u8(r, &a1));
	if ((a0 & 0xF0) != 0xF0 || (s->options & ~OPT_KNOWN))
		return DFI_E_CARD_PROTOCOL;
	s->ctr_ret = a0 & 0x0F;
	s->meta_read = a1 >> 4;
	s->file_read = a1 & 0x0F;
	fields(s, &p);
	if (p.uid)
		RD(dfi_rd_le24(r, &s->uid_offset));
	if (p.ctr)
		RD(dfi_rd_le24(r, &s->ctr_offset));
	if (p.picc)
		RD(dfi_rd_le24(r, &s->picc_offset));
	if (p.mac) {
		RD(dfi_rd_le24(r, &s->mac_input_offset));
		if (p.enc) {
			RD(dfi_rd_le24(r, &s->enc_offset));
			RD(dfi_rd_le24(r, &s->enc_length));
		}
		RD(dfi_rd_le24(r, &s->mac_offset));
	}
	if (p.limit)
		RD(dfi_rd_le24(r, &s->ctr_limit));
	return DFI_OK;
}

dfi_err
dfi_desfire_change_file_settings_sdm(dfi_desfire *d, uint8_t fileno, dfi_df_comm send_mode,
    dfi_df_comm new_comm, const struct dfi_df_access *a, const struct dfi_df_sdm *sdm)
{
	uint8_t data[3 + 3 + 8 * 3];
	size_t n = 0, sl = 0;

	if (sdm == NULL)
		return dfi_desfire_change_file_settings(d, fileno, send_mode, new_comm, a);
	if (d == NULL || a == NULL || fileno > 31 ||
	    (new_comm != DFI_DF_COMM_PLAIN && new_comm != DFI_DF_COMM_MAC &&
	    new_comm != DFI_DF_COMM_ENC) ||
	    (send_mode != DFI_DF_COMM_PLAIN && send_mode != DFI_DF_COMM_ENC))
		return DFI_E_INVALID_ARG;
	data[0] = (uint8_t)(DFI_DF_FILE_OPTION_SDM | new_comm);
	uint16_t ar = dfi_df_access_encode(a);
	data[1] = (uint8_t)ar;
	data[2] = (uint8_t)(ar >> 8);
	dfi_err e = dfi_df_sdm_encode(sdm, data + 3, sizeof(data) - 3, &sl);
	if (e != DFI_OK)
		return e;
	return df_command(d, 0x5F, &fileno, 1, data, 3 + sl,
	    send_mode == DFI_DF_COMM_ENC ? DFI_DF_COMM_ENC : DF_COMM_MGMT, DF_COMM_MGMT, 0, 0,
	    NULL, 0, &n);
}
