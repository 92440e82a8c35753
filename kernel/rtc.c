/*
 * The CMOS real-time clock, read once at boot for CLOCK_REALTIME.  The RTC
 * keeps UTC on the machines we boot (QEMU's default, and what a node's
 * firmware should keep); its fields may be BCD or binary and the hour
 * 12- or 24-hour, as status register B says.  A read is taken only when two
 * successive reads agree and no update was in progress.
 */
#include "kernel/rtc.h"
#include "kernel/cpu.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);		/* bit 7 clear: NMIs stay enabled */
	return inb(CMOS_DATA);
}

struct rtc_fields { uint8_t sec, min, hour, day, mon, year, century, regb; };

static void read_fields(struct rtc_fields *f, uint8_t century_reg)
{
	for (int spins = 0; spins < 1000000 && (cmos_read(0x0a) & 0x80); spins++)
		cpu_relax();		/* update in progress: wait it out */
	f->sec = cmos_read(0x00);
	f->min = cmos_read(0x02);
	f->hour = cmos_read(0x04);
	f->day = cmos_read(0x07);
	f->mon = cmos_read(0x08);
	f->year = cmos_read(0x09);
	f->century = century_reg ? cmos_read(century_reg) : 0;
	f->regb = cmos_read(0x0b);
}

static unsigned bcd(uint8_t v) { return (v & 0x0f) + (v >> 4) * 10u; }

int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* proleptic Gregorian calendar; day 0 is 1970-01-01 */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t rtc_read_unix(uint8_t century_reg)
{
	struct rtc_fields a, b;

	read_fields(&a, century_reg);
	for (int tries = 0; tries < 5; tries++) {
		read_fields(&b, century_reg);
		if (!__builtin_memcmp(&a, &b, sizeof a))
			break;
		a = b;
	}
	int binary = b.regb & 0x04, h24 = b.regb & 0x02;
	int pm = !h24 && (b.hour & 0x80);
	unsigned sec = b.sec, min = b.min, hour = b.hour & 0x7f, day = b.day, mon = b.mon;
	unsigned year = b.year, century = b.century;
	if (!binary) {
		sec = bcd(b.sec), min = bcd(b.min), hour = bcd(b.hour & 0x7f);
		day = bcd(b.day), mon = bcd(b.mon), year = bcd(b.year);
		century = bcd(b.century);
	}
	if (!h24)
		hour = hour % 12 + (pm ? 12 : 0);
	unsigned full = century >= 19 && century <= 99 ? century * 100 + year : 2000 + year;
	if (sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || mon < 1 || mon > 12)
		return -1;
	return rtc_days_from_civil(full, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
}
