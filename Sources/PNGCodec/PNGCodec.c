#include "PNGCodec.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void record_error(png_structp png, png_const_charp text) {
    png_codec_message *message = png_get_error_ptr(png);
    snprintf(message->text, sizeof message->text, "%s", text);
    png_longjmp(png, 1);
}

static void ignore_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

/* libpng's own reader says only "Read Error" for a file that ends early: this one says so. */
static void read_from_file(png_structp png, png_bytep data, size_t length) {
    FILE *file = png_get_io_ptr(png);
    if (fread(data, 1, length, file) == length) return;
    if (ferror(file)) png_error(png, strerror(errno));
    png_codec_message *message = png_get_error_ptr(png);
    snprintf(message->text, sizeof message->text, "truncated: the file ends after %ld bytes, inside its PNG data",
             ftell(file));
    png_longjmp(png, 1);
}

int png_codec_read(int descriptor, uint64_t max_pixels, png_codec_image *image, png_codec_message *message) {
    memset(image, 0, sizeof *image);
    message->text[0] = 0;
    // A duplicate, so that fclose leaves the caller's descriptor open.
    int own = dup(descriptor);
    FILE *file = own >= 0 ? fdopen(own, "rb") : NULL;
    if (!file) {
        snprintf(message->text, sizeof message->text, "%s", strerror(errno));
        if (own >= 0) close(own);
        return -1;
    }
    uint8_t signature[8];
    size_t signature_length = fread(signature, 1, sizeof signature, file);
    if (signature_length != sizeof signature || png_sig_cmp(signature, 0, sizeof signature) != 0) {
        snprintf(message->text, sizeof message->text, "not a PNG file (no PNG signature)");
        fclose(file);
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, record_error, ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(message->text, sizeof message->text, "out of memory");
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(file);
        return -1;
    }
    /* Written after setjmp and read after a longjmp, so volatile. */
    uint8_t *volatile samples = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(samples);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(file);
        return -1;
    }
    png_set_read_fn(png, file, read_from_file);
    png_set_sig_bytes(png, sizeof signature);
    png_read_info(png, info);
    uint32_t width = png_get_image_width(png, info);
    uint32_t height = png_get_image_height(png, info);
    if ((uint64_t)width * height > max_pixels) {
        snprintf(message->text, sizeof message->text, "image of %u×%u pixels is larger than the %llu pixels accepted",
                 width, height, (unsigned long long)max_pixels);
        png_longjmp(png, 1);
    }
    png_set_expand(png); /* palette to RGB, grey below 8 bits to 8 bits, tRNS to alpha */
    png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    uint32_t channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (png_get_bit_depth(png, info) != 8 || row_bytes != (size_t)width * channels) {
        snprintf(message->text, sizeof message->text, "unsupported sample layout after conversion");
        png_longjmp(png, 1);
    }
    samples = malloc(row_bytes * height + 1);
    rows = malloc(sizeof(png_bytep) * height + 1);
    if (!samples || !rows) {
        snprintf(message->text, sizeof message->text, "out of memory for %u×%u pixels", width, height);
        png_longjmp(png, 1);
    }
    for (uint32_t row = 0; row < height; row++) rows[row] = samples + row * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(file);
    image->width = width;
    image->height = height;
    image->channels = channels;
    image->samples = samples;
    return 0;
}

typedef struct {
    uint8_t *bytes;
    size_t count;
    size_t capacity;
} growing_buffer;

static void append_bytes(png_structp png, png_bytep data, size_t length) {
    growing_buffer *buffer = png_get_io_ptr(png);
    if (buffer->count + length > buffer->capacity) {
        size_t capacity = buffer->capacity * 2 + length + 4096;
        uint8_t *grown = realloc(buffer->bytes, capacity);
        if (!grown) png_error(png, "out of memory while encoding");
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->count, data, length);
    buffer->count += length;
}

static void flush_nothing(png_structp png) { (void)png; }

int png_codec_encode(const uint8_t *samples, uint32_t width, uint32_t height, uint32_t channels,
                     uint8_t **bytes, size_t *count, png_codec_message *message) {
    *bytes = NULL;
    *count = 0;
    message->text[0] = 0;
    if (channels != 1 && channels != 3) {
        snprintf(message->text, sizeof message->text, "can only write grey or RGB, not %u channels", channels);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, record_error, ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(message->text, sizeof message->text, "out of memory");
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    growing_buffer buffer = {NULL, 0, 0};
    growing_buffer *volatile output = &buffer;
    if (setjmp(png_jmpbuf(png))) {
        free(output->bytes);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, output, append_bytes, flush_nothing);
    png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t row = 0; row < height; row++) {
        png_write_row(png, samples + (size_t)row * width * channels);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *bytes = output->bytes;
    *count = output->count;
    return 0;
}

void png_codec_free(void *pointer) { free(pointer); }
