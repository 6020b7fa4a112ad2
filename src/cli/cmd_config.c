/*
 * cmd_config.c - `dmarcstat config`: the effective configuration (the
 * config file, then --set), the settings reference, and token hashing for
 * the upload API.
 *
 *   dmarcstat [--config FILE] config [--set KEY=VALUE]... [--changed]
 *   dmarcstat config --check | --markdown | --hash-token | --help
 *
 * Exit: 0, 2 when the configuration is invalid (the reason on stderr).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "lib/config.h"

int cmd_config(struct cli *cli, int argc, char **argv);

#define CONFIG_CMD_MAX_SETS 256

static void
config_cmd_usage(FILE *fp)
{
	fprintf(fp, "%s\n\n", cli_msg(NULL, "config.usage"));
	config_print_help(fp, cli_setting_text);
}

/* Reads one line from stdin and prints its crypto_pwhash string. */
static int
config_cmd_hash_token(void)
{
	char tok[1024], out[crypto_pwhash_STRBYTES];
	size_t n;

	if (sodium_init() < 0) {
		cli_errorf("config: libsodium failed to initialise");
		return EXIT_SOFTWARE;
	}
	if (fgets(tok, sizeof tok, stdin) == NULL) {
		cli_errorf("config: no token on standard input");
		return EXIT_USAGE;
	}
	tok[strcspn(tok, "\r\n")] = '\0';
	n = strlen(tok);
	if (n < 16) {
		cli_errorf("config: token shorter than 16 characters");
		sodium_memzero(tok, sizeof tok);
		return EXIT_USAGE;
	}
	if (crypto_pwhash_str(out, tok, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		sodium_memzero(tok, sizeof tok);
		cli_errorf("config: out of memory hashing the token");
		return EXIT_SOFTWARE;
	}
	sodium_memzero(tok, sizeof tok);
	printf("%s\n", out);
	return EXIT_OK;
}

int
cmd_config(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "changed", no_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "hash-token", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *sets[CONFIG_CMD_MAX_SETS];
	size_t nsets = 0;
	struct config *cfg;
	char err[512];
	int ch, changed = 0, check = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (nsets == CONFIG_CMD_MAX_SETS) {
				cli_errorf("config: too many --set");
				return EXIT_USAGE;
			}
			sets[nsets++] = optarg;
			break;
		case 'c':
			changed = 1;
			break;
		case 'k':
			check = 1;
			break;
		case 'm':
			config_print_markdown(stdout);
			return EXIT_OK;
		case 't':
			return config_cmd_hash_token();
		case 'h':
			config_cmd_usage(stdout);
			return EXIT_OK;
		default:
			config_cmd_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		config_cmd_usage(stderr);
		return EXIT_USAGE;
	}
	if ((cfg = config_load(cli->config_path, sets, nsets, err, sizeof err)) == NULL) {
		cli_errorf("config: %s", err);
		return EXIT_USAGE;
	}
	if (check) {
		if (!cli->quiet)
			printf("configuration ok: %s, %zu mailbox(es)\n",
			    config_path(cfg) ? config_path(cfg) : "(defaults)",
			    config_mailbox_count(cfg));
	} else
		config_print_effective(cfg, stdout, changed);
	config_free(&cfg);
	return EXIT_OK;
}
