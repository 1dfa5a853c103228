/*
 * nelem.h: the number of elements of an array, from its declaration.
 *
 * A PKCS#11 template or a lookup table passed with a hand-written count
 * goes wrong silently when an entry is added and the count is not: the
 * module reads fewer attributes than the template holds, or past it.
 * Counting from the declaration keeps the two together. Arrays only: on
 * a pointer the division is meaningless (GCC's -Wsizeof-pointer-div,
 * on with -Wall, catches that).
 */
#ifndef DFI_CORE_NELEM_H
#define DFI_CORE_NELEM_H

#define DFI_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
