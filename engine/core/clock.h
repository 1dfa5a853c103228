/*
 * clock.h: milliseconds on the monotonic clock.
 *
 * Deadlines (waiting for a card, for an idle reader) are measured on
 * CLOCK_MONOTONIC so that a wall-clock step (NTP, an operator's date)
 * neither ends a wait early nor stretches it.
 */
#ifndef DFI_CORE_CLOCK_H
#define DFI_CORE_CLOCK_H

/* Milliseconds since an arbitrary fixed point; only differences mean
 * anything. */
long dfi_now_ms(void);

#endif
