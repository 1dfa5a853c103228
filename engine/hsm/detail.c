/* The HSM failure's detail, one per calling thread (detail.h). */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "dfissue/util.h"
#include "hsm_int.h"

/* The calling thread's slot, or NULL; under h->mu. */
static struct dfi_hsm_detail *
slot_of(dfi_hsm *h, pthread_t self, pid_t tid)
{
	for (size_t i = 0; i < DFI_HSM_DETAIL_SLOTS; i++) {
		struct dfi_hsm_detail *d = &h->details[i];
		if (d->tid == tid && pthread_equal(d->thread, self))
			return d;
	}
	return NULL;
}

/* The least recently written slot (a free one was never written), made
 * the calling thread's; under h->mu. */
static struct dfi_hsm_detail *
slot_take(dfi_hsm *h, pthread_t self, pid_t tid)
{
	struct dfi_hsm_detail *d = &h->details[0];
	for (size_t i = 1; i < DFI_HSM_DETAIL_SLOTS; i++)
		if (h->details[i].written < d->written)
			d = &h->details[i];
	dfi_wipe(d, sizeof(*d)); /* nothing of the previous owner's text remains */
	d->thread = self;
	d->tid = tid;
	return d;
}

void
dfi_hsm_detail_put(dfi_hsm *h, dfi_err e, const char *text)
{
	pthread_t self = pthread_self();
	pid_t tid = gettid();
	pthread_mutex_lock(&h->mu);
	struct dfi_hsm_detail *d = slot_of(h, self, tid);
	if (d == NULL && text[0] != '\0')
		d = slot_take(h, self, tid);
	if (d != NULL) {
		snprintf(d->text, sizeof(d->text), "%s", text);
		d->err = e;
		d->written = ++h->detail_clock;
	}
	pthread_mutex_unlock(&h->mu);
}

void
dfi_hsm_detail_set(dfi_hsm *h, dfi_err e, const char *fmt, ...)
{
	char text[DFI_HSM_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	dfi_hsm_detail_put(h, e, text);
}

/* Copies the calling thread's detail into buf when it has one and, unless
 * any, when it was recorded for error want; returns the error it is for. */
static dfi_err
detail_copy(dfi_hsm *h, int any, dfi_err want, char *buf, size_t cap)
{
	dfi_err e = DFI_OK;
	if (buf == NULL || cap == 0)
		return e;
	buf[0] = '\0';
	if (h == NULL)
		return e;
	pthread_t self = pthread_self();
	pid_t tid = gettid();
	pthread_mutex_lock(&h->mu);
	const struct dfi_hsm_detail *d = slot_of(h, self, tid);
	if (d != NULL) {
		e = d->err;
		/* A detail recorded without an error (DFI_OK) explains none. */
		if (any || (e == want && want != DFI_OK))
			snprintf(buf, cap, "%s", d->text);
	}
	pthread_mutex_unlock(&h->mu);
	return e;
}

dfi_err
dfi_hsm_detail_get(dfi_hsm *h, char *buf, size_t cap)
{
	return detail_copy(h, 1, DFI_OK, buf, cap);
}

void
dfi_hsm_last_detail(dfi_hsm *h, char *buf, size_t cap)
{
	(void)dfi_hsm_detail_get(h, buf, cap);
}

void
dfi_hsm_detail_for(dfi_hsm *h, dfi_err e, char *buf, size_t cap)
{
	(void)detail_copy(h, 0, e, buf, cap);
}

void
dfi_hsm_detail_wipe(dfi_hsm *h)
{
	dfi_wipe(h->details, sizeof(h->details));
}
