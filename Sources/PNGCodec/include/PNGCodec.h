#ifndef PNG_CODEC_H
#define PNG_CODEC_H

#include <stddef.h>
#include <stdint.h>

/// Calls into libpng that never unwind through their caller: libpng reports errors by longjmp,
/// which must not cross Swift frames, so each function here sets its own jump target and turns
/// an error into a return value of -1 and a message.

/// An image of 8-bit samples, rows top to bottom, `channels` samples per pixel: 1 grey,
/// 2 grey and alpha, 3 RGB, 4 RGBA.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    /// width × height × channels bytes, allocated with malloc; free with png_codec_free.
    uint8_t *samples;
} png_codec_image;

/// Room for libpng's or our own message about why a call failed.
typedef struct {
    char text[256];
} png_codec_message;

/// Reads the PNG file open as `descriptor` (read from its current offset; the caller keeps and
/// closes the descriptor, and has checked that it is a regular file) as 8-bit samples, whatever
/// its colour type and depth: palettes become RGB (with alpha if they have transparency), grey of
/// 1–4 bits becomes 8-bit grey, a tRNS chunk becomes an alpha channel, and 16-bit samples are
/// scaled to 8 bits. Refuses images of more than `max_pixels` pixels. Returns 0, or -1 with
/// `message` filled.
int png_codec_read(int descriptor, uint64_t max_pixels, png_codec_image *image, png_codec_message *message);

/// Encodes 8-bit grey (`channels` 1) or RGB (`channels` 3) samples as a PNG in memory. On
/// success `*bytes` (malloc'd; free with png_codec_free) holds `*count` bytes. Returns 0, or -1
/// with `message` filled.
int png_codec_encode(const uint8_t *samples, uint32_t width, uint32_t height, uint32_t channels,
                     uint8_t **bytes, size_t *count, png_codec_message *message);

/// Frees memory returned by the functions above.
void png_codec_free(void *pointer);

#endif
