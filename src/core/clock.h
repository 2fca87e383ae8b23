/* Monotonic and wall clocks in milliseconds (and monotonic microseconds
 * for measuring short intervals). Only the event loop and main
 * read these; everything else is handed now_ms so it can be tested alone. */
#ifndef FM_CORE_CLOCK_H
#define FM_CORE_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_wall_ms(void);
uint64_t clock_mono_us(void);

#endif
