/* VGA text and framebuffer consoles; see screen.h. */
#include "drivers/screen.h"
#include "kernel/string.h"

#include <stdint.h>

enum { KIND_NONE, KIND_TEXT, KIND_FB };

static struct {
	int kind;
	uint8_t *base;
	uint32_t pitch, width, height, bytespp;
	uint32_t cols, rows, col, row;
	uint32_t fg, bg;
	const uint8_t *glyphs;
	uint32_t glyph_count, glyph_bytes, glyph_w, glyph_h;
	int esc;			/* 0, or inside ESC (1) or ESC [ (2) */
	uint32_t param[4], nparam;	/* the control sequence's numbers */
} scr;

/* The PSF font linked in by kernel/font.S. */
extern const uint8_t font_psf[], font_psf_end[];

static int font_load(void)
{
	const uint8_t *f = font_psf;
	size_t len = (size_t)(font_psf_end - font_psf);

	if (len >= 4 && f[0] == 0x36 && f[1] == 0x04) {		/* PSF1 */
		scr.glyph_count = (f[2] & 1) ? 512 : 256;
		scr.glyph_h = f[3];
		scr.glyph_w = 8;
		scr.glyph_bytes = f[3];
		scr.glyphs = f + 4;
	} else if (len >= 32 && f[0] == 0x72 && f[1] == 0xb5 && f[2] == 0x4a && f[3] == 0x86) {
		uint32_t hdr, count, bytes, h, w;			/* PSF2 */
		memcpy(&hdr, f + 8, 4);
		memcpy(&count, f + 16, 4);
		memcpy(&bytes, f + 20, 4);
		memcpy(&h, f + 24, 4);
		memcpy(&w, f + 28, 4);
		scr.glyphs = f + hdr;
		scr.glyph_count = count;
		scr.glyph_bytes = bytes;
		scr.glyph_h = h;
		scr.glyph_w = w;
	} else {
		return -1;
	}
	uint64_t need = (uint64_t)scr.glyph_count * scr.glyph_bytes;
	if (scr.glyph_w == 0 || scr.glyph_h == 0 || scr.glyph_w > 32 ||
	    scr.glyph_bytes < (scr.glyph_w + 7) / 8 * scr.glyph_h ||
	    (size_t)(scr.glyphs - f) + need > len)
		return -1;
	return 0;
}

static uint32_t pack_rgb(const struct boot_framebuffer *fb, uint8_t r, uint8_t g, uint8_t b)
{
	return ((uint32_t)(r >> (8 - fb->red_size)) << fb->red_pos) |
	       ((uint32_t)(g >> (8 - fb->green_size)) << fb->green_pos) |
	       ((uint32_t)(b >> (8 - fb->blue_size)) << fb->blue_pos);
}

void screen_init(const struct boot_framebuffer *fb, void *fb_virt)
{
	scr.kind = KIND_NONE;
	if (fb->type == FB_TEXT) {
		scr.kind = KIND_TEXT;
		scr.base = fb_virt;
		scr.cols = fb->width;
		scr.rows = fb->height;
		scr.pitch = fb->pitch ? fb->pitch : fb->width * 2;
	} else if (fb->type == FB_RGB && font_load() == 0 &&
		   fb->red_size <= 8 && fb->green_size <= 8 && fb->blue_size <= 8) {
		scr.kind = KIND_FB;
		scr.base = fb_virt;
		scr.pitch = fb->pitch;
		scr.width = fb->width;
		scr.height = fb->height;
		scr.bytespp = fb->bpp / 8;
		scr.cols = fb->width / scr.glyph_w;
		scr.rows = fb->height / scr.glyph_h;
		scr.fg = pack_rgb(fb, 0xc0, 0xc0, 0xc0);
		scr.bg = pack_rgb(fb, 0, 0, 0);
		for (uint32_t y = 0; y < scr.height; y++)
			memset(scr.base + (size_t)y * scr.pitch, 0, (size_t)scr.width * scr.bytespp);
	}
	if (scr.kind == KIND_TEXT)
		for (uint32_t i = 0; i < scr.rows; i++)
			for (uint32_t j = 0; j < scr.cols; j++)
				((volatile uint16_t *)(scr.base + i * scr.pitch))[j] = 0x0720;
	scr.col = scr.row = 0;
}

const char *screen_kind(void)
{
	return scr.kind == KIND_TEXT ? "vga-text" : scr.kind == KIND_FB ? "framebuffer" : "none";
}

static void put_pixel(uint32_t x, uint32_t y, uint32_t v)
{
	uint8_t *p = scr.base + (size_t)y * scr.pitch + (size_t)x * scr.bytespp;

	if (scr.bytespp == 4)
		*(volatile uint32_t *)p = v;
	else if (scr.bytespp == 3) {
		p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16);
	} else
		*(volatile uint16_t *)p = (uint16_t)v;
}

static void draw_glyph(uint32_t col, uint32_t row, unsigned char c)
{
	if (c >= scr.glyph_count)
		c = '?';
	const uint8_t *g = scr.glyphs + (size_t)c * scr.glyph_bytes;
	uint32_t stride = (scr.glyph_w + 7) / 8;

	for (uint32_t y = 0; y < scr.glyph_h; y++)
		for (uint32_t x = 0; x < scr.glyph_w; x++) {
			int on = (g[y * stride + x / 8] >> (7 - x % 8)) & 1;
			put_pixel(col * scr.glyph_w + x, row * scr.glyph_h + y, on ? scr.fg : scr.bg);
		}
}

static void scroll(void)
{
	if (scr.kind == KIND_TEXT) {
		memmove(scr.base, scr.base + scr.pitch, (size_t)(scr.rows - 1) * scr.pitch);
		for (uint32_t j = 0; j < scr.cols; j++)
			((volatile uint16_t *)(scr.base + (scr.rows - 1) * scr.pitch))[j] = 0x0720;
	} else {
		size_t line = (size_t)scr.glyph_h * scr.pitch;
		memmove(scr.base, scr.base + line, (size_t)(scr.rows - 1) * line);
		for (uint32_t y = (scr.rows - 1) * scr.glyph_h; y < scr.rows * scr.glyph_h; y++)
			memset(scr.base + (size_t)y * scr.pitch, 0, (size_t)scr.width * scr.bytespp);
	}
	scr.row = scr.rows - 1;
}

static void put_cell(uint32_t col, uint32_t row, unsigned char c)
{
	if (scr.kind == KIND_TEXT)
		((volatile uint16_t *)(scr.base + row * scr.pitch))[col] = (uint16_t)(0x0700 | c);
	else
		draw_glyph(col, row, c);
}

/* Blanks the cells [from, to) counted row by row from the top left. */
static void clear_cells(uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		put_cell(i % scr.cols, i / scr.cols, ' ');
}

static uint32_t clamp(uint32_t v, uint32_t max)
{
	return v > max ? max : v;
}

/* The end of an ESC [ sequence: the VT100 subset line editors and simple
 * full-screen programs use (cursor moves, erase in display and line);
 * the rest, colours among them, is taken and ignored. */
static void control_sequence(unsigned char final)
{
	uint32_t n = scr.param[0] ? scr.param[0] : 1, here = scr.row * scr.cols + scr.col;

	switch (final) {
	case 'A': scr.row = scr.row > n ? scr.row - n : 0; break;
	case 'B': scr.row = clamp(scr.row + n, scr.rows - 1); break;
	case 'C': scr.col = clamp(scr.col + n, scr.cols - 1); break;
	case 'D': scr.col = scr.col > n ? scr.col - n : 0; break;
	case 'G': scr.col = clamp(n - 1, scr.cols - 1); break;
	case 'H': case 'f':
		scr.row = clamp(n - 1, scr.rows - 1);
		scr.col = clamp((scr.param[1] ? scr.param[1] : 1) - 1, scr.cols - 1);
		break;
	case 'J':
		if (scr.param[0] == 0)
			clear_cells(here, scr.rows * scr.cols);
		else if (scr.param[0] == 1)
			clear_cells(0, here + 1);
		else
			clear_cells(0, scr.rows * scr.cols);
		break;
	case 'K': {
		uint32_t line = scr.row * scr.cols;
		if (scr.param[0] == 0)
			clear_cells(here, line + scr.cols);
		else if (scr.param[0] == 1)
			clear_cells(line, here + 1);
		else
			clear_cells(line, line + scr.cols);
		break;
	}
	default:
		break;
	}
}

/* A byte inside an escape sequence: 1 when it was taken. */
static int escape_byte(unsigned char c)
{
	if (c == 033) {
		scr.esc = 1;
		return 1;
	}
	if (scr.esc == 1) {
		scr.esc = c == '[' ? 2 : 0;
		scr.nparam = 0;
		for (int i = 0; i < 4; i++)
			scr.param[i] = 0;
		return 1;
	}
	if (scr.esc != 2)
		return 0;
	if (c >= '0' && c <= '9') {
		uint32_t *p = &scr.param[scr.nparam];
		*p = *p > 9999 ? *p : *p * 10 + (uint32_t)(c - '0');
	} else if (c == ';') {
		if (scr.nparam < 3)
			scr.nparam++;
	} else if (c >= 0x40 && c <= 0x7e) {
		control_sequence(c);
		scr.esc = 0;
	} else if (c < 0x20 || c > 0x3f) {
		scr.esc = 0;		/* not a control sequence after all */
	}
	return 1;
}

void screen_putc(char ch)
{
	unsigned char c = (unsigned char)ch;

	if (scr.kind == KIND_NONE || scr.rows == 0 || scr.cols == 0)
		return;
	if (escape_byte(c))
		return;
	if (c == '\b') {
		if (scr.col)
			scr.col--;
		return;
	}
	if (c == '\n') {
		scr.col = 0;
		if (++scr.row == scr.rows)
			scroll();
		return;
	}
	if (c == '\r') {
		scr.col = 0;
		return;
	}
	if (c == '\t') {
		do screen_putc(' '); while (scr.col % 8);
		return;
	}
	if (c < 0x20)
		return;			/* BEL and the other controls draw nothing */
	put_cell(scr.col, scr.row, c);
	if (++scr.col == scr.cols) {
		scr.col = 0;
		if (++scr.row == scr.rows)
			scroll();
	}
}
