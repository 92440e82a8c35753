/*
 * The PS/2 keyboard, for the console's input on a PC: scan code set 1 (the
 * controller translates the keyboard's set 2, as PC firmware leaves it)
 * to the bytes a serial terminal would send, US layout.  Enter sends CR
 * and Backspace DEL, Ctrl makes control characters, Alt an ESC prefix, and
 * the arrows and editing keys VT100 escape sequences.  The keypad gives
 * its navigation keys (no Num Lock).
 */
#include "drivers/ps2kbd.h"
#include "kernel/cpu.h"

#define PS2_DATA 0x60
#define PS2_STATUS 0x64		/* read: status; write: controller command */
#define ST_OUTPUT 0x01		/* a byte waits in PS2_DATA */
#define ST_INPUT 0x02		/* the controller has not taken our last byte */
#define ST_AUX 0x20		/* that byte is the mouse's */

enum { SC_LCTRL = 0x1d, SC_LSHIFT = 0x2a, SC_RSHIFT = 0x36, SC_ALT = 0x38, SC_CAPS = 0x3a };

static const char plain[0x3a] =
	"\0\033" "1234567890-=\177\t" "qwertyuiop[]\r\0" "asdfghjkl;'`\0\\" "zxcvbnm,./\0*\0 ";
static const char shifted[0x3a] =
	"\0\033" "!@#$%^&*()_+\177\t" "QWERTYUIOP{}\r\0" "ASDFGHJKL:\"~\0|" "ZXCVBNM<>?\0*\0 ";
_Static_assert(sizeof plain == 0x3a && sizeof shifted == 0x3a, "one byte per scan code");

static struct {
	int present;
	int e0;				/* the previous byte was the 0xe0 prefix */
	int shift, ctrl, alt, caps;
} kbd;

/* The escape sequence of a navigation key (set 1 code, with or without
 * the 0xe0 prefix), or NULL. */
static const char *navigation(uint8_t sc)
{
	switch (sc) {
	case 0x48: return "\033[A";
	case 0x50: return "\033[B";
	case 0x4d: return "\033[C";
	case 0x4b: return "\033[D";
	case 0x47: return "\033[H";
	case 0x4f: return "\033[F";
	case 0x52: return "\033[2~";
	case 0x53: return "\033[3~";
	case 0x49: return "\033[5~";
	case 0x51: return "\033[6~";
	default: return 0;
	}
}

static int wait_status(uint8_t mask, uint8_t want)
{
	for (int spins = 0; spins < 100000; spins++) {
		if ((inb(PS2_STATUS) & mask) == want)
			return 0;
		cpu_relax();
	}
	return -1;
}

int ps2kbd_init(void)
{
	if (inb(PS2_STATUS) == 0xff)
		return -1;			/* no controller: the bus floats */
	for (int i = 0; i < 64 && (inb(PS2_STATUS) & ST_OUTPUT); i++)
		inb(PS2_DATA);
	if (wait_status(ST_INPUT, 0))
		return -1;
	outb(PS2_STATUS, 0x20);			/* read the configuration byte */
	if (wait_status(ST_OUTPUT, ST_OUTPUT))
		return -1;
	uint8_t cfg = inb(PS2_DATA);
	cfg |= 0x01;				/* interrupt for the first port */
	cfg &= (uint8_t)~0x10;			/* its clock on */
	if (wait_status(ST_INPUT, 0))
		return -1;
	outb(PS2_STATUS, 0x60);			/* write it back */
	if (wait_status(ST_INPUT, 0))
		return -1;
	outb(PS2_DATA, cfg);
	kbd.present = 1;
	return 0;
}

static void put_string(const char *s, void (*put)(uint8_t))
{
	while (*s)
		put((uint8_t)*s++);
}

/* One scan code byte: modifiers change state; a key press yields bytes. */
static void scancode(uint8_t sc, void (*put)(uint8_t))
{
	int e0 = kbd.e0, release = sc & 0x80;

	kbd.e0 = 0;
	if (sc == 0xe0) {
		kbd.e0 = 1;
		return;
	}
	sc &= 0x7f;
	if (sc == SC_LSHIFT || sc == SC_RSHIFT) {
		if (!e0)			/* 0xe0 0x2a is a fake shift */
			kbd.shift = !release;
		return;
	}
	if (sc == SC_LCTRL || sc == SC_ALT) {
		*(sc == SC_LCTRL ? &kbd.ctrl : &kbd.alt) = !release;
		return;
	}
	if (release)
		return;
	if (sc == SC_CAPS) {
		kbd.caps = !kbd.caps;
		return;
	}
	const char *nav = navigation(sc);
	if (nav) {
		put_string(nav, put);
		return;
	}
	/* keypad Enter and / (0xe0 0x1c, 0xe0 0x35) share the main keys' codes */
	if (sc >= sizeof plain)
		return;				/* function keys and the rest */
	uint8_t c = (uint8_t)(kbd.shift ? shifted[sc] : plain[sc]);
	if (!c)
		return;
	if (kbd.caps && c >= 'a' && c <= 'z')
		c = (uint8_t)(c - 'a' + 'A');
	else if (kbd.caps && c >= 'A' && c <= 'Z')
		c = (uint8_t)(c - 'A' + 'a');
	if (kbd.ctrl) {
		if (c >= '@' && c <= '~')
			c &= 0x1f;
		else if (c == ' ' || c == '2')
			c = 0;
	}
	if (kbd.alt)
		put(033);
	put(c);
}

void ps2kbd_drain(void (*put)(uint8_t c))
{
	uint8_t st;

	if (!kbd.present)
		return;
	for (int i = 0; i < 64 && ((st = inb(PS2_STATUS)) & ST_OUTPUT); i++) {
		uint8_t b = inb(PS2_DATA);
		if (!(st & ST_AUX))
			scancode(b, put);
	}
}
