/*
 * Minimal stand-in for miniaudio.h (https://miniaud.io), written for Switchyard.
 *
 * The Go module zip of github.com/ollama/ollama lacks llama.cpp's vendor/ folder,
 * and miniaudio has no Debian package. The only user is llama.cpp's multimodal
 * helper (tools/mtmd/mtmd-helper.cpp), which decodes audio attachments. This
 * header declares exactly the symbols it uses; every decoder call fails, so
 * audio input is simply rejected. Text and image paths are unaffected.
 */
#ifndef SWITCHYARD_MINIAUDIO_STUB_H
#define SWITCHYARD_MINIAUDIO_STUB_H

#include <stddef.h>
#include <stdint.h>

#ifndef MA_API
#define MA_API static
#endif

typedef uint32_t ma_uint32;
typedef uint64_t ma_uint64;
typedef int      ma_result;

#define MA_SUCCESS          0
#define MA_ERROR           -1
#define MA_NOT_IMPLEMENTED -29

typedef enum { ma_format_unknown = 0, ma_format_u8, ma_format_s16, ma_format_s24, ma_format_s32, ma_format_f32 } ma_format;
typedef enum { ma_encoding_format_unknown = 0, ma_encoding_format_wav } ma_encoding_format;

typedef struct { ma_format format; ma_uint32 channels; ma_uint32 sampleRate; } ma_decoder_config;
typedef struct { int unused; } ma_decoder;

typedef struct { ma_encoding_format encodingFormat; ma_format format; ma_uint32 channels; ma_uint32 sampleRate; } ma_encoder_config;
typedef struct { int unused; } ma_encoder;

#ifdef __GNUC__
#define MA_STUB_UNUSED __attribute__((unused))
#else
#define MA_STUB_UNUSED
#endif

MA_STUB_UNUSED MA_API ma_decoder_config ma_decoder_config_init(ma_format f, ma_uint32 ch, ma_uint32 rate) {
    ma_decoder_config c; c.format = f; c.channels = ch; c.sampleRate = rate; return c;
}
MA_STUB_UNUSED MA_API ma_result ma_decoder_init_memory(const void *data, size_t size, const ma_decoder_config *cfg, ma_decoder *d) {
    (void)data; (void)size; (void)cfg; (void)d; return MA_NOT_IMPLEMENTED;
}
MA_STUB_UNUSED MA_API ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *d, ma_uint64 *n) {
    (void)d; if (n) *n = 0; return MA_NOT_IMPLEMENTED;
}
MA_STUB_UNUSED MA_API ma_result ma_decoder_read_pcm_frames(ma_decoder *d, void *out, ma_uint64 n, ma_uint64 *read) {
    (void)d; (void)out; (void)n; if (read) *read = 0; return MA_NOT_IMPLEMENTED;
}
MA_STUB_UNUSED MA_API ma_result ma_decoder_uninit(ma_decoder *d) { (void)d; return MA_SUCCESS; }

MA_STUB_UNUSED MA_API ma_encoder_config ma_encoder_config_init(ma_encoding_format e, ma_format f, ma_uint32 ch, ma_uint32 rate) {
    ma_encoder_config c; c.encodingFormat = e; c.format = f; c.channels = ch; c.sampleRate = rate; return c;
}
MA_STUB_UNUSED MA_API ma_result ma_encoder_init_file(const char *path, const ma_encoder_config *cfg, ma_encoder *e) {
    (void)path; (void)cfg; (void)e; return MA_NOT_IMPLEMENTED;
}
MA_STUB_UNUSED MA_API ma_result ma_encoder_write_pcm_frames(ma_encoder *e, const void *in, ma_uint64 n, ma_uint64 *written) {
    (void)e; (void)in; (void)n; if (written) *written = 0; return MA_NOT_IMPLEMENTED;
}
MA_STUB_UNUSED MA_API ma_result ma_encoder_uninit(ma_encoder *e) { (void)e; return MA_SUCCESS; }

#endif /* SWITCHYARD_MINIAUDIO_STUB_H */
