/* The program's vector registers around libOS code that uses them
 * (libos/vecstate.c). */
#ifndef EXO_LIBOS_VECSTATE_H
#define EXO_LIBOS_VECSTATE_H

int vec_init(void);
void vec_enter(void);
void vec_leave(void);

#endif
