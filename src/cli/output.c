/*
 * output.c - the CLI's three output forms from one JSON array of rows:
 * an aligned table on a terminal (East Asian wide characters count two
 * columns, untrusted text has control characters replaced), CSV (RFC 4180
 * quoting; cells that a spreadsheet would run as a formula are prefixed with
 * a quote), or the JSON itself.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "lib/xalloc.h"

/* Display width of one code point (rough East Asian Width). */
static int
cp_width(uint32_t c)
{
	if (c >= 0x1100 && (c <= 0x115f || (c >= 0x2e80 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd)))
		return 2;
	return 1;
}

static size_t
str_width(const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t c = *p;
		int n = 1;
		if (c >= 0xf0) { c &= 0x07; n = 4; }
		else if (c >= 0xe0) { c &= 0x0f; n = 3; }
		else if (c >= 0xc0) { c &= 0x1f; n = 2; }
		for (int i = 1; i < n && p[i]; i++)
			c = (c << 6) | (p[i] & 0x3f);
		for (int i = 0; i < n && *p; i++)
			p++;
		w += (size_t)cp_width(c);
	}
	return w;
}

/* The cell text of one value, newly allocated; control characters replaced. */
static char *
cell(const struct cli *cli, json_t *v, enum col_fmt fmt)
{
	char buf[64];
	char *s;

	if (v == NULL || json_is_null(v))
		return xstrdup(cli->format == CLI_CSV ? "" : "-");
	switch (fmt) {
	case COL_PCT:
		if (json_is_number(v)) {
			snprintf(buf, sizeof buf, cli->format == CLI_CSV ? "%.2f" :
			    "%.1f%%", json_number_value(v));
			return xstrdup(buf);
		}
		break;
	case COL_TIME:
	case COL_DAY:
		if (json_is_integer(v)) {
			cli_fmt_time(json_integer_value(v), buf, sizeof buf);
			if (fmt == COL_DAY)
				buf[10] = '\0';
			return xstrdup(buf);
		}
		break;
	default:
		break;
	}
	if (json_is_string(v))
		s = xstrdup(json_string_value(v));
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = xstrdup(buf);
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.2f", json_real_value(v));
		s = xstrdup(buf);
	} else if (json_is_true(v) || json_is_false(v))
		s = xstrdup(json_is_true(v) ? "yes" : "no");
	else
		s = json_dumps(v, JSON_COMPACT);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = cli->format == CLI_CSV && *p == '\n' ? '\n' : '?';
	return s;
}

static void
csv_field(FILE *fp, const char *s)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';

	/* a negative number is data, not a formula */
	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		formula = 0;
	if (quote || formula)
		fputc('"', fp);
	if (formula)
		fputc('\'', fp);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', fp);
		fputc(*p, fp);
	}
	if (quote || formula)
		fputc('"', fp);
}

void
cli_output_json(const struct cli *cli, json_t *v)
{
	json_dumpf(v, stdout, (cli->tty ? JSON_INDENT(2) : JSON_COMPACT) |
	    JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

void
cli_output_rows(const struct cli *cli, json_t *rows, const struct column *cols,
    size_t ncols)
{
	size_t nrows = json_array_size(rows);
	size_t *w;
	char ***cells;

	if (cli->format == CLI_JSON) {
		cli_output_json(cli, rows);
		return;
	}
	if (cli->format == CLI_CSV) {
		for (size_t c = 0; c < ncols; c++) {
			if (c)
				fputc(',', stdout);
			csv_field(stdout, cols[c].key);
		}
		fputs("\r\n", stdout);
		for (size_t r = 0; r < nrows; r++) {
			json_t *row = json_array_get(rows, r);
			for (size_t c = 0; c < ncols; c++) {
				char *s = cell(cli, json_object_get(row, cols[c].key),
				    cols[c].fmt);
				if (c)
					fputc(',', stdout);
				csv_field(stdout, s);
				free(s);
			}
			fputs("\r\n", stdout);
		}
		return;
	}
	w = xcalloc(ncols, sizeof *w);
	cells = xcalloc(nrows + 1, sizeof *cells);
	for (size_t r = 0; r <= nrows; r++) {
		json_t *row = r ? json_array_get(rows, r - 1) : NULL;
		cells[r] = xcalloc(ncols, sizeof *cells[r]);
		for (size_t c = 0; c < ncols; c++) {
			char *s = r ? cell(cli, json_object_get(row, cols[c].key),
			    cols[c].fmt) : xstrdup(cli_msg(cli, cols[c].heading));
			size_t sw;
			/* keep tables readable: cut very long cells */
			if (strlen(s) > 60) {
				size_t cut = 57;
				while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
					cut--;
				memcpy(s + cut, "...", 4);
			}
			cells[r][c] = s;
			sw = str_width(s);
			if (sw > w[c])
				w[c] = sw;
		}
	}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *s = cells[r][c];
			size_t pad = w[c] - str_width(s);
			int right = r && cols[c].fmt != COL_TEXT &&
			    cols[c].fmt != COL_TIME && cols[c].fmt != COL_DAY;
			if (c)
				fputs("  ", stdout);
			if (right)
				for (size_t i = 0; i < pad; i++)
					fputc(' ', stdout);
			fputs(s, stdout);
			if (!right && c + 1 < ncols)
				for (size_t i = 0; i < pad; i++)
					fputc(' ', stdout);
		}
		fputc('\n', stdout);
		free(cells[r][0]);
		for (size_t c = 1; c < ncols; c++)
			free(cells[r][c]);
		free(cells[r]);
	}
	free(cells);
	free(w);
}
