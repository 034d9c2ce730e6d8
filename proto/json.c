/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* ---- a growable byte buffer ---------------------------------------------------------------- */

typedef struct buf {
        char *data; /* owned; NUL-terminated once anything was appended */
        size_t len;
        size_t cap;
} buf;

static void buf_done(buf *b)
{
        free(b->data);
        *b = (buf){ 0 };
}

static int buf_reserve(buf *b, size_t n)
{
        if (b->cap - b->len > n)
                return 0;
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap - b->len <= n) {
                if (ncap > SIZE_MAX / 2)
                        return -ENOMEM;
                ncap *= 2;
        }
        char *p = realloc(b->data, ncap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = ncap;
        return 0;
}

static int buf_add(buf *b, const void *p, size_t n)
{
        if (buf_reserve(b, n) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

static int buf_addc(buf *b, char c)
{
        return buf_add(b, &c, 1);
}

static int buf_adds(buf *b, const char *s)
{
        return buf_add(b, s, strlen(s));
}

/* Append a code point as UTF-8. */
static int buf_add_utf8(buf *b, uint32_t cp)
{
        char u[4];
        size_t n;

        if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                u[0] = (char)(0xc0 | cp >> 6);
                u[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xe0 | cp >> 12);
                u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                u[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                u[0] = (char)(0xf0 | cp >> 18);
                u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
                u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
                u[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        return buf_add(b, u, n);
}

/* ---- shared helpers ------------------------------------------------------------------------ */

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF are not).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
        } else
                return 0;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(buf *b, const unsigned char *p, size_t n)
{
        char q[4];

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                q[0] = b64_alphabet[v >> 18 & 0x3f];
                q[1] = b64_alphabet[v >> 12 & 0x3f];
                q[2] = i + 1 < n ? b64_alphabet[v >> 6 & 0x3f] : '=';
                q[3] = i + 2 < n ? b64_alphabet[v & 0x3f] : '=';
                if (buf_add(b, q, 4) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/*
 * Decode standard base64 (padding optional) into `out`. Returns 0, -EINVAL on
 * a character outside the alphabet or an impossible length, -ENOMEM.
 */
static int b64_decode(buf *out, const char *s, size_t n)
{
        uint32_t acc = 0;
        size_t bits = 0, pad = 0;

        while (n > 0 && s[n - 1] == '=' && pad < 2)
                n--, pad++;
        if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
                return -EINVAL;
        out->len = 0;
        if (buf_reserve(out, n / 4 * 3 + 3) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int v = b64_value((unsigned char)s[i]);
                if (v < 0)
                        return -EINVAL;
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out->data[out->len++] = (char)(acc >> bits & 0xff);
                }
        }
        out->data[out->len] = '\0';
        return 0;
}

/* The "C" locale for numbers, made on first use: strtod() and printf() follow LC_NUMERIC. */
static int c_locale(locale_t *loc)
{
        if (*loc == (locale_t)0) {
                *loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
                if (*loc == (locale_t)0)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- JSON -> msgpack ----------------------------------------------------------------------- */

/*
 * Two passes over the text: the first checks everything and records the
 * element count of each container in document order (msgpack writes counts
 * before elements); the second writes, reading the counts back in the same
 * order. So an error never leaves half a value in the writer.
 */
typedef struct parser {
        const char *s;     /* the text, borrowed */
        size_t n;          /* its length */
        size_t pos;        /* current offset */
        rd_writer *w;      /* NULL during the checking pass */
        uint32_t *counts;  /* container element counts, in document order */
        size_t n_counts;   /* recorded by the checking pass */
        size_t cap_counts; /* allocated */
        size_t next_count; /* next to read in the writing pass */
        buf str;           /* the string being decoded */
        buf b64;           /* the text of a "$bin" member */
        buf bin;           /* decoded bytes of a "$bin" member */
        locale_t loc;      /* "C" locale for strtod_l(), or 0 until needed */
        char *err;         /* caller's message buffer, may be NULL */
        size_t errlen;     /* its size */
} parser;

static int fail(parser *p, size_t at, const char *fmt, ...) _printf_(3, 4);
static int fail(parser *p, size_t at, const char *fmt, ...)
{
        va_list ap;

        if (p->err && p->errlen > 0) {
                va_start(ap, fmt);
                int k = vsnprintf(p->err, p->errlen, fmt, ap);
                va_end(ap);
                if (k >= 0 && (size_t)k < p->errlen)
                        snprintf(p->err + k, p->errlen - (size_t)k, " at offset %zu", at);
        }
        return -EINVAL;
}

static int fail_char(parser *p, const char *expected)
{
        unsigned char c = (unsigned char)p->s[p->pos];

        if (c >= 0x20 && c < 0x7f)
                return fail(p, p->pos, "unexpected character '%c', expected %s", c, expected);
        return fail(p, p->pos, "unexpected byte 0x%02x, expected %s", c, expected);
}

static void skip_ws(parser *p)
{
        while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                                 p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
                p->pos++;
}

static bool at_end(const parser *p)
{
        return p->pos >= p->n;
}

static char peek(const parser *p)
{
        return p->pos < p->n ? p->s[p->pos] : '\0';
}

static int parse_value(parser *p, unsigned depth);

static int hex4(parser *p, size_t at, uint32_t *ret)
{
        uint32_t v = 0;

        if (p->n - at < 4)
                return fail(p, at, "truncated \\u escape");
        for (size_t i = 0; i < 4; i++) {
                char c = p->s[at + i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t)(c - 'A' + 10);
                else
                        return fail(p, at + i, "invalid hex digit in \\u escape");
        }
        *ret = v;
        return 0;
}

/* Decode the string at p->pos (which is '"') into `out`, leaving p->pos after it. */
static int parse_string(parser *p, buf *out)
{
        size_t start = p->pos;

        out->len = 0;
        if (buf_reserve(out, 0) < 0)
                return -ENOMEM;
        out->data[0] = '\0';
        p->pos++;
        for (;;) {
                if (at_end(p))
                        return fail(p, start, "unterminated string starting");
                unsigned char c = (unsigned char)p->s[p->pos];
                if (c == '"') {
                        p->pos++;
                        return 0;
                }
                if (c < 0x20)
                        return fail(p, p->pos, "control character 0x%02x in string", c);
                if (c >= 0x80) {
                        size_t k = utf8_len((const unsigned char *)p->s + p->pos, p->n - p->pos);
                        if (k == 0)
                                return fail(p, p->pos, "invalid UTF-8 in string");
                        if (buf_add(out, p->s + p->pos, k) < 0)
                                return -ENOMEM;
                        p->pos += k;
                        continue;
                }
                if (c != '\\') {
                        /* A run of plain characters at once. */
                        size_t k = p->pos;
                        while (k < p->n && p->s[k] != '"' && p->s[k] != '\\' &&
                               (unsigned char)p->s[k] >= 0x20 && (unsigned char)p->s[k] < 0x80)
                                k++;
                        if (buf_add(out, p->s + p->pos, k - p->pos) < 0)
                                return -ENOMEM;
                        p->pos = k;
                        continue;
                }

                size_t esc = p->pos;
                if (p->n - p->pos < 2)
                        return fail(p, start, "unterminated string starting");
                char e = p->s[p->pos + 1];
                p->pos += 2;
                char simple;
                switch (e) {
                case '"':
                case '\\':
                case '/':
                        simple = e;
                        break;
                case 'b':
                        simple = '\b';
                        break;
                case 'f':
                        simple = '\f';
                        break;
                case 'n':
                        simple = '\n';
                        break;
                case 'r':
                        simple = '\r';
                        break;
                case 't':
                        simple = '\t';
                        break;
                case 'u':
                        simple = 0;
                        break;
                default:
                        if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
                                return fail(p, esc, "invalid escape '\\%c'", e);
                        return fail(p, esc, "invalid escape");
                }
                if (simple) {
                        if (buf_addc(out, simple) < 0)
                                return -ENOMEM;
                        continue;
                }

                uint32_t cp, lo;
                int r = hex4(p, p->pos, &cp);
                if (r < 0)
                        return r;
                p->pos += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                        return fail(p, esc, "unpaired low surrogate \\u%04" PRIx32, cp);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                                return fail(p, esc, "unpaired high surrogate \\u%04" PRIx32, cp);
                        r = hex4(p, p->pos + 2, &lo);
                        if (r < 0)
                                return r;
                        if (lo < 0xdc00 || lo > 0xdfff)
                                return fail(p, esc, "unpaired high surrogate \\u%04" PRIx32, cp);
                        p->pos += 6;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (buf_add_utf8(out, cp) < 0)
                        return -ENOMEM;
        }
}

static int parse_literal(parser *p, const char *word)
{
        size_t k = strlen(word);

        if (p->n - p->pos < k || memcmp(p->s + p->pos, word, k) != 0)
                return fail_char(p, "a value");
        p->pos += k;
        if (p->w) {
                if (word[0] == 'n')
                        rd_write_nil(p->w);
                else
                        rd_write_bool(p->w, word[0] == 't');
        }
        return 0;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
 * Scan a JSON number at p->pos (grammar only). Sets *integral when it has no
 * fraction and no exponent.
 */
static int scan_number(parser *p, size_t *end, bool *integral)
{
        size_t i = p->pos;

        *integral = true;
        if (i < p->n && p->s[i] == '-')
                i++;
        if (i >= p->n || !is_digit(p->s[i]))
                return fail(p, i, "expected a digit");
        if (p->s[i] == '0')
                i++;
        else
                while (i < p->n && is_digit(p->s[i]))
                        i++;
        if (i < p->n && p->s[i] == '.') {
                *integral = false;
                i++;
                if (i >= p->n || !is_digit(p->s[i]))
                        return fail(p, i, "expected a digit after '.'");
                while (i < p->n && is_digit(p->s[i]))
                        i++;
        }
        if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
                *integral = false;
                i++;
                if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
                        i++;
                if (i >= p->n || !is_digit(p->s[i]))
                        return fail(p, i, "expected a digit in exponent");
                while (i < p->n && is_digit(p->s[i]))
                        i++;
        }
        *end = i;
        return 0;
}

/* Numbers longer than this are refused: no float needs them. */
#define NUMBER_MAX 1024

static int parse_number(parser *p)
{
        size_t start = p->pos, end = p->pos;
        bool integral, negative = p->s[p->pos] == '-';
        int r;

        r = scan_number(p, &end, &integral);
        if (r < 0)
                return r;

        if (integral) {
                /* Accumulate the magnitude; fall through to a float when it does not fit. */
                uint64_t mag = 0;
                bool fits = true;
                for (size_t i = start + negative; i < end; i++) {
                        unsigned d = (unsigned)(p->s[i] - '0');
                        if (mag > (UINT64_MAX - d) / 10) {
                                fits = false;
                                break;
                        }
                        mag = mag * 10 + d;
                }
                if (fits && negative && mag > (uint64_t)INT64_MAX + 1)
                        fits = false;
                if (fits) {
                        if (p->w) {
                                if (negative && mag > 0)
                                        rd_write_int(p->w, mag == (uint64_t)INT64_MAX + 1
                                                                   ? INT64_MIN
                                                                   : -(int64_t)mag);
                                else
                                        rd_write_uint(p->w, mag);
                        }
                        p->pos = end;
                        return 0;
                }
        }

        if (end - start >= NUMBER_MAX)
                return fail(p, start, "number too long");
        char tmp[NUMBER_MAX];
        memcpy(tmp, p->s + start, end - start);
        tmp[end - start] = '\0';
        r = c_locale(&p->loc);
        if (r < 0)
                return r;
        double d = strtod_l(tmp, NULL, p->loc);
        if (!isfinite(d))
                return fail(p, start, "number out of range");
        if (p->w)
                rd_write_double(p->w, d);
        p->pos = end;
        return 0;
}

/* Where the checking pass records a container's count; returns its index. */
static int push_count(parser *p, size_t *slot)
{
        if (p->n_counts == p->cap_counts) {
                size_t ncap = p->cap_counts ? p->cap_counts * 2 : 16;
                uint32_t *c = reallocarray(p->counts, ncap, sizeof(*c));
                if (!c)
                        return -ENOMEM;
                p->counts = c;
                p->cap_counts = ncap;
        }
        *slot = p->n_counts++;
        p->counts[*slot] = 0;
        return 0;
}

static int open_container(parser *p, unsigned depth, size_t *slot)
{
        if (depth >= RD_JSON_MAX_DEPTH)
                return fail(p, p->pos, "nesting deeper than %d levels", RD_JSON_MAX_DEPTH);
        p->pos++;
        if (p->w) {
                assert(p->next_count < p->n_counts);
                *slot = p->next_count++;
                return 0;
        }
        return push_count(p, slot);
}

static int count_one(parser *p, size_t slot)
{
        if (!p->w) {
                if (p->counts[slot] == UINT32_MAX)
                        return fail(p, p->pos, "too many elements");
                p->counts[slot]++;
        }
        return 0;
}

static int parse_array(parser *p, unsigned depth)
{
        size_t slot;
        int r;

        r = open_container(p, depth, &slot);
        if (r < 0)
                return r;
        if (p->w)
                rd_write_array(p->w, p->counts[slot]);

        skip_ws(p);
        if (peek(p) == ']') {
                p->pos++;
                return 0;
        }
        for (;;) {
                r = count_one(p, slot);
                if (r < 0)
                        return r;
                r = parse_value(p, depth + 1);
                if (r < 0)
                        return r;
                skip_ws(p);
                if (at_end(p))
                        return fail(p, p->pos, "unexpected end of input in array");
                if (peek(p) == ']') {
                        p->pos++;
                        return 0;
                }
                if (peek(p) != ',')
                        return fail_char(p, "',' or ']'");
                p->pos++;
        }
}

/* Parse a (possibly negative) integer in [-128, 127] for "$ext"; false if it is not one. */
static bool scan_ext_type(parser *p, int *ret)
{
        size_t i = p->pos;
        bool neg = false;
        int v = 0;

        if (i < p->n && p->s[i] == '-')
                neg = true, i++;
        if (i >= p->n || !is_digit(p->s[i]))
                return false;
        for (; i < p->n && is_digit(p->s[i]); i++) {
                v = v * 10 + (p->s[i] - '0');
                if (v > 200)
                        return false;
        }
        if (i < p->n && (p->s[i] == '.' || p->s[i] == 'e' || p->s[i] == 'E'))
                return false;
        v = neg ? -v : v;
        if (v < -128 || v > 127)
                return false;
        p->pos = i;
        *ret = v;
        return true;
}

static void write_ext(rd_writer *w, int type, const void *data, size_t n)
{
        unsigned char h[6];
        size_t k;

        switch (n) {
        case 1:
                h[0] = 0xd4, k = 1;
                break;
        case 2:
                h[0] = 0xd5, k = 1;
                break;
        case 4:
                h[0] = 0xd6, k = 1;
                break;
        case 8:
                h[0] = 0xd7, k = 1;
                break;
        case 16:
                h[0] = 0xd8, k = 1;
                break;
        default:
                if (n <= UINT8_MAX) {
                        h[0] = 0xc7, h[1] = (unsigned char)n, k = 2;
                } else if (n <= UINT16_MAX) {
                        h[0] = 0xc8, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n;
                        k = 3;
                } else {
                        h[0] = 0xc9;
                        h[1] = (unsigned char)(n >> 24), h[2] = (unsigned char)(n >> 16);
                        h[3] = (unsigned char)(n >> 8), h[4] = (unsigned char)n;
                        k = 5;
                }
        }
        h[k++] = (unsigned char)(int8_t)type;
        rd_write_raw(w, h, k);
        rd_write_raw(w, data, n);
}

/*
 * Is the object at p->pos exactly {"$bin": STR} or {"$ext": INT, "$bin": STR}
 * (either order)? If so, check or write it as bin/ext and return 1. If not,
 * restore p->pos and return 0: the general object parser takes over and
 * reports any syntax error itself.
 */
static int parse_special(parser *p)
{
        size_t start = p->pos, b64_at = 0;
        bool have_bin = false, have_ext = false;
        int ext = 0, r;

        p->pos++;
        for (int i = 0; i < 2; i++) {
                skip_ws(p);
                if (peek(p) != '"')
                        goto no;
                r = parse_string(p, &p->str);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        goto no;
                bool is_bin = p->str.len == 4 && memcmp(p->str.data, "$bin", 4) == 0;
                bool is_ext = p->str.len == 4 && memcmp(p->str.data, "$ext", 4) == 0;
                if ((!is_bin && !is_ext) || (is_bin && have_bin) || (is_ext && have_ext))
                        goto no;
                skip_ws(p);
                if (peek(p) != ':')
                        goto no;
                p->pos++;
                skip_ws(p);
                if (is_bin) {
                        if (peek(p) != '"')
                                goto no;
                        b64_at = p->pos;
                        r = parse_string(p, &p->b64);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                goto no;
                        have_bin = true;
                } else {
                        if (!scan_ext_type(p, &ext))
                                goto no;
                        have_ext = true;
                }
                skip_ws(p);
                if (peek(p) == '}')
                        break;
                if (peek(p) != ',' || i == 1)
                        goto no;
                p->pos++;
        }
        if (peek(p) != '}' || !have_bin)
                goto no;
        p->pos++;

        r = b64_decode(&p->bin, p->b64.data, p->b64.len);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(p, b64_at, "invalid base64 in \"$bin\"");
        if (p->bin.len > UINT32_MAX)
                return fail(p, b64_at, "\"$bin\" too large");
        if (p->w) {
                if (have_ext)
                        write_ext(p->w, ext, p->bin.data, p->bin.len);
                else
                        rd_write_bin(p->w, p->bin.data, p->bin.len);
        }
        return 1;
no:
        p->pos = start;
        return 0;
}

static int parse_object(parser *p, unsigned depth)
{
        size_t slot;
        int r;

        if (depth >= RD_JSON_MAX_DEPTH)
                return fail(p, p->pos, "nesting deeper than %d levels", RD_JSON_MAX_DEPTH);
        r = parse_special(p);
        if (r != 0)
                return r < 0 ? r : 0;

        r = open_container(p, depth, &slot);
        if (r < 0)
                return r;
        if (p->w)
                rd_write_map(p->w, p->counts[slot]);

        skip_ws(p);
        if (peek(p) == '}') {
                p->pos++;
                return 0;
        }
        for (;;) {
                skip_ws(p);
                if (at_end(p))
                        return fail(p, p->pos, "unexpected end of input in object");
                if (peek(p) != '"')
                        return fail_char(p, "a string key");
                r = count_one(p, slot);
                if (r < 0)
                        return r;
                r = parse_string(p, &p->str);
                if (r < 0)
                        return r;
                if (p->w)
                        rd_write_strn(p->w, p->str.data, p->str.len);
                skip_ws(p);
                if (at_end(p))
                        return fail(p, p->pos, "unexpected end of input in object");
                if (peek(p) != ':')
                        return fail_char(p, "':'");
                p->pos++;
                r = parse_value(p, depth + 1);
                if (r < 0)
                        return r;
                skip_ws(p);
                if (at_end(p))
                        return fail(p, p->pos, "unexpected end of input in object");
                if (peek(p) == '}') {
                        p->pos++;
                        return 0;
                }
                if (peek(p) != ',')
                        return fail_char(p, "',' or '}'");
                p->pos++;
        }
}

static int parse_value(parser *p, unsigned depth)
{
        int r;

        skip_ws(p);
        if (at_end(p))
                return fail(p, p->pos, "unexpected end of input, expected a value");
        switch (p->s[p->pos]) {
        case '{':
                return parse_object(p, depth);
        case '[':
                return parse_array(p, depth);
        case '"':
                r = parse_string(p, &p->str);
                if (r < 0)
                        return r;
                if (p->w)
                        rd_write_strn(p->w, p->str.data, p->str.len);
                return 0;
        case 't':
                return parse_literal(p, "true");
        case 'f':
                return parse_literal(p, "false");
        case 'n':
                return parse_literal(p, "null");
        case '-':
        case '0' ... '9':
                return parse_number(p);
        default:
                return fail_char(p, "a value");
        }
}

static int parse_document(parser *p)
{
        int r;

        p->pos = 0;
        r = parse_value(p, 0);
        if (r < 0)
                return r;
        skip_ws(p);
        if (!at_end(p))
                return fail_char(p, "end of input");
        return 0;
}

int rd_json_to_msgpack(const char *json, size_t len, rd_writer *w, char *err, size_t errlen)
{
        parser p = { .s = json, .n = len, .err = err, .errlen = errlen };
        int r;

        assert_return(json || len == 0, -EINVAL);
        assert_return(w, -EINVAL);
        if (err && errlen > 0)
                err[0] = '\0';
        if (!json)
                p.s = "";

        r = parse_document(&p);
        if (r >= 0) {
                size_t size = w->size;
                p.w = w;
                r = parse_document(&p);
                /* The text was checked already: only allocation can fail now. */
                assert(r >= 0 || r == -ENOMEM);
                if (r >= 0 && rd_writer_failed(w))
                        r = -ENOMEM;
                if (r < 0)
                        w->size = size;
        }
        if (r == -ENOMEM && err && errlen > 0)
                snprintf(err, errlen, "out of memory");

        free(p.counts);
        buf_done(&p.str);
        buf_done(&p.b64);
        buf_done(&p.bin);
        if (p.loc != (locale_t)0)
                freelocale(p.loc);
        return r;
}

/* ---- rd_value -> JSON ---------------------------------------------------------------------- */

typedef struct renderer {
        buf out;
        locale_t loc; /* "C" locale for snprintf(), or 0 until needed */
} renderer;

static int render(renderer *rr, buf *b, const rd_value *v);

static int render_string(buf *b, const char *s, size_t n)
{
        const unsigned char *u = (const unsigned char *)s;

        if (buf_addc(b, '"') < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t run = i;
                /* Copy plain ASCII in runs. */
                while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' &&
                       u[run] != '\\')
                        run++;
                if (run > i) {
                        if (buf_add(b, s + i, run - i) < 0)
                                return -ENOMEM;
                        i = run;
                        continue;
                }

                unsigned char c = u[i];
                char esc[8];
                int r;
                if (c >= 0x80) {
                        size_t k = utf8_len(u + i, n - i);
                        if (k == 0) {
                                r = buf_adds(b, "\xef\xbf\xbd"); /* U+FFFD */
                                k = 1;
                        } else
                                r = buf_add(b, s + i, k);
                        if (r < 0)
                                return -ENOMEM;
                        i += k;
                        continue;
                }
                switch (c) {
                case '"':
                        r = buf_adds(b, "\\\"");
                        break;
                case '\\':
                        r = buf_adds(b, "\\\\");
                        break;
                case '\b':
                        r = buf_adds(b, "\\b");
                        break;
                case '\f':
                        r = buf_adds(b, "\\f");
                        break;
                case '\n':
                        r = buf_adds(b, "\\n");
                        break;
                case '\r':
                        r = buf_adds(b, "\\r");
                        break;
                case '\t':
                        r = buf_adds(b, "\\t");
                        break;
                default:
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        r = buf_adds(b, esc);
                }
                if (r < 0)
                        return -ENOMEM;
                i++;
        }
        return buf_addc(b, '"');
}

/* The shortest of %.15g..%.17g that reads back as the same double; always looks like a float. */
static int render_double(renderer *rr, buf *b, double d)
{
        char tmp[40];
        int r;

        if (!isfinite(d))
                return buf_adds(b, "null");
        r = c_locale(&rr->loc);
        if (r < 0)
                return r;
        locale_t old = uselocale(rr->loc);
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
                if (strtod_l(tmp, NULL, rr->loc) == d)
                        break;
        }
        uselocale(old);
        if (!strpbrk(tmp, ".eE"))
                strcat(tmp, ".0");
        return buf_adds(b, tmp);
}

static int render_bin(buf *b, const void *p, size_t n)
{
        if (buf_adds(b, "{\"$bin\":\"") < 0 || b64_encode(b, p, n) < 0 || buf_adds(b, "\"}") < 0)
                return -ENOMEM;
        return 0;
}

/* value.h has no ext accessor: reach the msgpack_object behind the view (both live in proto/). */
static int render_ext(buf *b, const rd_value *v)
{
        const msgpack_object *o = (const msgpack_object *)v;
        char head[32];

        snprintf(head, sizeof(head), "{\"$ext\":%d,\"$bin\":\"", (int)o->via.ext.type);
        if (buf_adds(b, head) < 0 ||
            b64_encode(b, (const void *)o->via.ext.ptr, o->via.ext.size) < 0 ||
            buf_adds(b, "\"}") < 0)
                return -ENOMEM;
        return 0;
}

static int render_key(renderer *rr, buf *b, const rd_value *k)
{
        const char *s;
        size_t n;
        int r;

        if (rd_value_str(k, &s, &n) >= 0)
                return render_string(b, s, n);

        /* A key that is not a str: its JSON text becomes the key. */
        buf tmp = { 0 };
        r = render(rr, &tmp, k);
        if (r >= 0)
                r = render_string(b, tmp.data, tmp.len);
        buf_done(&tmp);
        return r;
}

static int render(renderer *rr, buf *b, const rd_value *v)
{
        char num[32];
        bool t;
        uint64_t u;
        int64_t i;
        double d;
        const char *s;
        const void *p;
        size_t n;
        int r;

        switch (rd_value_type_of(v)) {
        case RD_VALUE_NONE:
        case RD_VALUE_NIL:
                return buf_adds(b, "null");
        case RD_VALUE_BOOL:
                (void)rd_value_bool(v, &t);
                return buf_adds(b, t ? "true" : "false");
        case RD_VALUE_UINT:
                (void)rd_value_uint(v, &u);
                snprintf(num, sizeof(num), "%" PRIu64, u);
                return buf_adds(b, num);
        case RD_VALUE_INT:
                (void)rd_value_int(v, &i);
                snprintf(num, sizeof(num), "%" PRId64, i);
                return buf_adds(b, num);
        case RD_VALUE_FLOAT:
                (void)rd_value_double(v, &d);
                return render_double(rr, b, d);
        case RD_VALUE_STR:
                (void)rd_value_str(v, &s, &n);
                return render_string(b, s, n);
        case RD_VALUE_BIN:
                (void)rd_value_bin(v, &p, &n);
                return render_bin(b, p, n);
        case RD_VALUE_EXT:
                return render_ext(b, v);
        case RD_VALUE_ARRAY:
                if (buf_addc(b, '[') < 0)
                        return -ENOMEM;
                n = rd_value_len(v);
                for (size_t k = 0; k < n; k++) {
                        if (k > 0 && buf_addc(b, ',') < 0)
                                return -ENOMEM;
                        r = render(rr, b, rd_value_at(v, k));
                        if (r < 0)
                                return r;
                }
                return buf_addc(b, ']');
        case RD_VALUE_MAP:
                if (buf_addc(b, '{') < 0)
                        return -ENOMEM;
                n = rd_value_len(v);
                for (size_t k = 0; k < n; k++) {
                        if (k > 0 && buf_addc(b, ',') < 0)
                                return -ENOMEM;
                        r = render_key(rr, b, rd_value_key_at(v, k));
                        if (r < 0)
                                return r;
                        if (buf_addc(b, ':') < 0)
                                return -ENOMEM;
                        r = render(rr, b, rd_value_val_at(v, k));
                        if (r < 0)
                                return r;
                }
                return buf_addc(b, '}');
        }
        return buf_adds(b, "null");
}

int rd_json_from_value(const rd_value *v, char **ret)
{
        renderer rr = { 0 };
        int r;

        assert_return(ret, -EINVAL);

        r = render(&rr, &rr.out, v);
        if (rr.loc != (locale_t)0)
                freelocale(rr.loc);
        if (r < 0) {
                buf_done(&rr.out);
                return r;
        }
        *ret = rr.out.data;
        return 0;
}
