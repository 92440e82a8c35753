/*
 * The notes a call makes in its thread's waker of the descriptions it
 * holds while it may sleep (vfs.h, file_hold), inline: read and write
 * make one around every call, and the pipe round trip is measured
 * against Linux's. The holds nest (a read's around its pipe's wait): a
 * stack, and a hold past its room is only counted, not noted.
 */
#ifndef LIBOS_HOLD_H
#define LIBOS_HOLD_H

#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/vfs.h"

static inline struct sh_waker *hold_waker(void)
{
	return lp.shared_pages ? lo_thread_self()->waker : 0;
}

/* Notes f in w (hold_waker's: 0 before the segment), on which the caller
 * holds a reference of its own. */
static inline void hold_note(struct sh_waker *w, struct file *f)
{
	if (!w)
		return;
	if (w->nheld < SH_WAKER_HELD)
		w->held[w->nheld] = f;
	w->nheld++;
}

/* Forgets w's last note (the reference stays the caller's). */
static inline void hold_unnote(struct sh_waker *w)
{
	if (w && w->nheld && --w->nheld < SH_WAKER_HELD)
		w->held[w->nheld] = 0;
}

#endif
