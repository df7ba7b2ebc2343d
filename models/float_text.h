/* Floats and doubles as decimal text that reads back bit for bit: the model
 * files (GBDT JSON, the XGBoost export, the .kzm meta) write every number
 * through these, and the readers convert through kz_float_from_double.
 *
 * A JSON reader (jansson, Python) parses a number into a double, and kaizen
 * then rounds that double to a float. So the writer picks the fewest
 * significant digits s such that both (float)strtod(s) -- the reader's path --
 * and strtof(s) -- a reader parsing straight to float, as XGBoost does -- give
 * back the same bits. Negative zero is written "-0.0": jansson reads "-0" as
 * the integer 0 and loses the sign. Every other value gets the shortest form,
 * "%g"-like: "0.1", "3.4028235e+38", "1e-45", "-2.5", "16777216".
 *
 * The largest float, FLT_MAX, is 3.40282346639e+38; its shortest text
 * "3.4028235e+38" read as a double lies just above FLT_MAX but still rounds to
 * it, so a reader must not reject doubles above FLT_MAX outright: a double
 * fits a float iff it rounds to a finite one, |x| < 0x1.ffffffp+127 (the
 * halfway point between FLT_MAX and the next power of two, which rounds to
 * infinity). */
#ifndef KZ_MODELS_FLOAT_TEXT_H
#define KZ_MODELS_FLOAT_TEXT_H

/* Room for any text these functions write, NUL included. */
#define KZ_FLOAT_TEXT_MAX 40

/* 1 and *out = (float)x when x rounds to a finite float (subnormals and -0
 * included); 0 (and *out untouched) for NaN, ±inf and |x| >= 0x1.ffffffp+127. */
int kz_float_from_double(double x, float *out);

/* The shortest text of a finite v (above). Non-finite v gives "nan", "inf" or
 * "-inf", which JSON does not allow: callers reject them first. */
void kz_float_to_text(float v, char buf[KZ_FLOAT_TEXT_MAX]);
/* Likewise for a double: the fewest digits s with strtod(s) == v bit for bit. */
void kz_double_to_text(double v, char buf[KZ_FLOAT_TEXT_MAX]);

#endif
