/*
 * messages.c - the message catalog of the analysis module (en, ja).
 * Public: messages_get, messages_render, messages_json, messages_count,
 * messages_key.  Keys are the reason codes of classify.c
 * ("misconfigured.dkim_missing"), "advice." + reason code, "class.*",
 * "verdict.*", "check.*", "step.*" and "label.*".  Placeholders:
 * {who} {from} {domain} {dkim_domain} {spf_domain} {override} {service}
 * {ip} {host} {messages} {sources} {include} {hint} {days} {reporters}
 * {pct} {p} {next} {share}.  Lookup is linear (about 100 keys, used once
 * per rendered row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/messages.h"
#include "lib/xalloc.h"

struct messages_entry {
	const char *key, *en, *ja;
};

static const struct messages_entry messages_table[] = {
	/* classes */
	{ "class.legitimate", "legitimate", "正当" },
	{ "class.misconfigured", "misconfigured", "設定不備" },
	{ "class.forwarded", "forwarded", "転送" },
	{ "class.spoofing", "spoofing suspected", "なりすまし疑い" },
	{ "class.unknown", "unknown", "不明" },

	/* reasons */
	{ "legitimate.dkim_spf_aligned",
	  "DKIM and SPF both pass aligned with {from}.",
	  "DKIM と SPF の両方が {from} とアラインメントして成功しています。" },
	{ "legitimate.dkim_aligned",
	  "DKIM passes aligned with {from}; SPF is not aligned.",
	  "DKIM は {from} とアラインメントして成功、SPF はアラインメントしていません。" },
	{ "legitimate.spf_only",
	  "Passes by SPF only; there is no aligned DKIM signature, so forwarding will break it.",
	  "SPF のみで成功しています。アラインメントした DKIM 署名がないため、転送されると失敗します。" },
	{ "forwarded.dkim_survived",
	  "Forwarded: SPF fails for this relay but the DKIM signature of {dkim_domain} survived, so DMARC passes.",
	  "転送: 中継サーバのため SPF は失敗していますが、{dkim_domain} の DKIM 署名が残っているため DMARC は成功しています。" },
	{ "forwarded.override",
	  "The receiver reported an override ({override}): it treated this as forwarded or locally accepted mail.",
	  "受信側がオーバーライド（{override}）を報告しています。転送またはローカルポリシーによる受理として扱われています。" },
	{ "forwarded.known_forwarder",
	  "Sent through {service}, a known forwarding service.",
	  "既知の転送サービス {service} 経由で送られています。" },
	{ "forwarded.mailing_list",
	  "Sent through {service}, a mailing list that rewrites messages.",
	  "メッセージを書き換えるメーリングリスト {service} 経由で送られています。" },
	{ "forwarded.dkim_broken",
	  "Forwarded by {who}: the DKIM signature of {dkim_domain} was broken in transit and SPF does not cover the forwarder.",
	  "{who} による転送: {dkim_domain} の DKIM 署名が途中で壊れ、SPF も転送元を許可していません。" },
	{ "forwarded.via_provider",
	  "Relayed by {who}, a mailbox provider that forwards its users' mail; nothing authenticated.",
	  "利用者のメールを転送するメールサービス {who} から中継されました。認証はいずれも成功していません。" },
	{ "misconfigured.dkim_other_domain",
	  "{who} signs with DKIM d={dkim_domain}, which is not aligned with {from}.",
	  "{who} は DKIM を d={dkim_domain} で署名しており、{from} とアラインメントしていません。" },
	{ "misconfigured.dkim_fails",
	  "{who} sends a DKIM signature for {dkim_domain} that fails verification.",
	  "{who} の {dkim_domain} の DKIM 署名が検証に失敗しています。" },
	{ "misconfigured.dkim_missing",
	  "{who} sends without a DKIM signature.",
	  "{who} は DKIM 署名なしで送信しています。" },
	{ "spf.other_domain",
	  "SPF passes for {spf_domain}, which is not aligned with {from}.",
	  "SPF は {spf_domain} で成功していますが、{from} とアラインメントしていません。" },
	{ "spf.fails",
	  "SPF of {spf_domain} does not authorise this source.",
	  "{spf_domain} の SPF がこの送信元を許可していません。" },
	{ "spf.none",
	  "No SPF result.",
	  "SPF の結果がありません。" },
	{ "spoofing.rejected_by_user",
	  "You marked this source as not yours.",
	  "この送信元はあなたが「自分のものではない」と登録しています。" },
	{ "spoofing.rejected_but_passes",
	  "You marked this source as not yours, yet it passes DMARC: it can use your SPF or DKIM key.",
	  "この送信元は「自分のものではない」と登録されていますが DMARC に成功しています。SPF または DKIM 鍵を使える状態です。" },
	{ "spoofing.other_domain_auth",
	  "Nothing aligned with {from} passes; it authenticates only as another domain ({dkim_domain}{spf_domain}).",
	  "{from} とアラインメントした認証がありません。別ドメイン（{dkim_domain}{spf_domain}）としてのみ認証されています。" },
	{ "spoofing.no_auth",
	  "Neither DKIM nor SPF passes, and nobody approved this source.",
	  "DKIM も SPF も成功しておらず、承認された送信元でもありません。" },
	{ "unknown.no_data",
	  "The report gives no authentication results for these messages.",
	  "このメッセージについてレポートに認証結果がありません。" },
	{ "unknown.aligned_dkim_failed",
	  "A DKIM signature of {dkim_domain} failed from an unidentified source: forwarding that altered the message, or a forged signature.",
	  "識別できない送信元で {dkim_domain} の DKIM 署名が失敗しています。メッセージを書き換える転送か、偽の署名の可能性があります。" },
	{ "unknown.not_enriched",
	  "The source has not been looked up yet (run dmarcstat enrich).",
	  "送信元の情報をまだ取得していません（dmarcstat enrich を実行してください）。" },

	/* advice per reason */
	{ "advice.legitimate.spf_only",
	  "Add DKIM signing with d={from} for this source.",
	  "この送信元で d={from} の DKIM 署名を追加してください。" },
	{ "advice.forwarded.dkim_survived",
	  "Nothing to do: keep DKIM signing. Never add forwarders to your SPF record.",
	  "対応は不要です。DKIM 署名を続けてください。転送サーバを SPF に追加しないでください。" },
	{ "advice.forwarded.override",
	  "Nothing to do: the receiver already accepted it as forwarded.",
	  "対応は不要です。受信側が転送として受理しています。" },
	{ "advice.forwarded.known_forwarder",
	  "Nothing to do for SPF; aligned DKIM signing is what survives forwarding.",
	  "SPF の変更は不要です。転送後も残るのはアラインメントした DKIM 署名です。" },
	{ "advice.forwarded.mailing_list",
	  "Nothing to do: mailing lists rewrite messages; receivers that honour ARC will accept them.",
	  "対応は不要です。メーリングリストはメッセージを書き換えます。ARC に対応した受信側は受理します。" },
	{ "advice.forwarded.dkim_broken",
	  "Usually nothing to do. If {who} is your own mail service, approve it and enable DKIM for {from} there.",
	  "通常は対応不要です。{who} を自社で利用している場合は承認し、そこで {from} の DKIM を有効にしてください。" },
	{ "advice.forwarded.via_provider",
	  "Usually nothing to do. If you send through {who} yourself, approve it and enable DKIM for {from}.",
	  "通常は対応不要です。自社で {who} から送信している場合は承認し、{from} の DKIM を有効にしてください。" },
	{ "advice.misconfigured.dkim_other_domain",
	  "Set up DKIM signing with d={from} at {who}{hint}.",
	  "{who} で d={from} の DKIM 署名を設定してください{hint}。" },
	{ "advice.misconfigured.dkim_fails",
	  "Check that the DKIM public key for {dkim_domain} is published and matches, and that nothing modifies mail after signing.",
	  "{dkim_domain} の DKIM 公開鍵が DNS に正しく公開されているか、署名後にメールが書き換えられていないかを確認してください。" },
	{ "advice.misconfigured.dkim_missing",
	  "Enable DKIM signing with d={from} at {who}{hint}.",
	  "{who} で d={from} の DKIM 署名を有効にしてください{hint}。" },
	{ "advice.spoofing.rejected_by_user",
	  "Nothing to do: p=quarantine or p=reject will stop it.",
	  "対応は不要です。p=quarantine または p=reject で止められます。" },
	{ "advice.spoofing.rejected_but_passes",
	  "Remove this source from your SPF record or rotate the DKIM key it uses.",
	  "この送信元を SPF レコードから外すか、使われている DKIM 鍵を更新してください。" },
	{ "advice.spoofing.other_domain_auth",
	  "If this is a service you use, approve it (dmarcstat sources approve) and set up DKIM for {from} there; otherwise enforcement will stop it.",
	  "利用中のサービスであれば承認（dmarcstat sources approve）し、そこで {from} の DKIM を設定してください。そうでなければポリシー強化で止められます。" },
	{ "advice.spoofing.no_auth",
	  "If this is your server, approve it and sign its mail with DKIM; otherwise p=reject will stop it.",
	  "自社のサーバであれば承認し、DKIM 署名を設定してください。そうでなければ p=reject で止められます。" },
	{ "advice.unknown.aligned_dkim_failed",
	  "Look at the host; approve it if it is yours, reject it if it is not.",
	  "ホストを確認し、自社のものであれば承認、そうでなければ拒否として登録してください。" },
	{ "advice.unknown.not_enriched",
	  "Run dmarcstat enrich.",
	  "dmarcstat enrich を実行してください。" },

	/* readiness verdicts */
	{ "verdict.no_data", "No reports for {domain} in this period.",
	  "この期間に {domain} のレポートがありません。" },
	{ "verdict.insufficient_data",
	  "Not enough data yet: {days} days from {reporters} reporters. Collect at least 14 days from 2 or more reporters.",
	  "データがまだ不足しています（{days} 日分、レポーター {reporters} 社）。14 日以上、2 社以上のレポートを集めてください。" },
	{ "verdict.not_ready",
	  "Not ready for p=reject: {messages} legitimate messages ({share}) from {sources} sources would be hit.",
	  "p=reject の準備ができていません。正当な送信元 {sources} 件の {messages} 通（{share}）が影響を受けます。" },
	{ "verdict.almost",
	  "Almost ready: {messages} legitimate messages ({share}) would still be hit; fix them, or move to p=quarantine first.",
	  "ほぼ準備ができています。正当なメール {messages} 通（{share}）がまだ影響を受けます。修正するか、先に p=quarantine に移行してください。" },
	{ "verdict.ready",
	  "Ready: no legitimate source would be hit by p=reject.",
	  "準備完了: p=reject にしても正当な送信元は影響を受けません。" },
	{ "verdict.enforced",
	  "Already enforced: p={p} is published.",
	  "既にポリシーを適用しています（p={p}）。" },

	/* checklist */
	{ "check.reports_received", "Reports from {reporters} reporters (2 or more).",
	  "レポーター {reporters} 社からレポートを受信（2 社以上）。" },
	{ "check.observation_period", "{days} days of data (14 or more).",
	  "{days} 日分のデータ（14 日以上）。" },
	{ "check.dkim_coverage", "{pct} of legitimate mail carries aligned DKIM (99 % or more).",
	  "正当なメールの {pct} がアラインメントした DKIM 署名付き（99% 以上）。" },
	{ "check.no_misconfigured", "Misconfigured sources: {sources} ({messages} messages).",
	  "設定不備の送信元: {sources} 件（{messages} 通）。" },
	{ "check.spf_only", "Sources passing by SPF only: {sources}.",
	  "SPF のみで成功している送信元: {sources} 件。" },
	{ "check.unknown_low", "Unclassified mail: {pct} (under 1 %).",
	  "分類できないメール: {pct}（1% 未満）。" },
	{ "check.policy", "Published policy p={p}.",
	  "公開中のポリシー p={p}。" },
	{ "check.pct_full", "Policy applies to all mail (pct={pct}).",
	  "ポリシーが全メールに適用される（pct={pct}）。" },
	{ "check.subdomain_policy", "Subdomain policy sp={p}.",
	  "サブドメインのポリシー sp={p}。" },
	{ "check.testing_off", "Test mode (t=y) is off.",
	  "テストモード（t=y）が無効。" },

	/* next steps */
	{ "step.dkim_at_service",
	  "Add DKIM signing with d={domain} at {service}{hint}: {messages} messages from {sources} sources.",
	  "{service}{hint} で d={domain} の DKIM 署名を設定してください（{sources} 件の送信元から {messages} 通）。" },
	{ "step.dkim_own_server",
	  "Sign mail from {who} with DKIM d={domain} ({messages} messages).",
	  "{who} から送るメールに d={domain} の DKIM 署名を付けてください（{messages} 通）。" },
	{ "step.dkim_fix",
	  "DKIM signatures of {dkim_domain} from {who} fail: check the published key and that nothing rewrites the mail after signing ({messages} messages).",
	  "{who} からの {dkim_domain} の DKIM 署名が失敗しています。公開鍵と、署名後の書き換えの有無を確認してください（{messages} 通）。" },
	{ "step.spf_include",
	  "Authorise {service} in the SPF record of {spf_domain}: include:{include}.",
	  "{spf_domain} の SPF レコードで {service} を許可してください: include:{include}" },
	{ "step.spf_own_ip",
	  "Authorise your server {who} in the SPF record of {spf_domain} (ip4:/ip6:{ip}).",
	  "{spf_domain} の SPF レコードで自社サーバ {who} を許可してください（ip4:/ip6:{ip}）。" },
	{ "step.return_path",
	  "Optional: use a bounce (Return-Path) domain under {domain} at {service} so that SPF aligns as well.",
	  "任意: {service} でバウンス（Return-Path）ドメインを {domain} 配下にすると SPF もアラインメントします。" },
	{ "step.add_dkim_spf_only",
	  "{who} passes by SPF only: add DKIM signing with d={domain} so forwarding does not break it ({messages} messages).",
	  "{who} は SPF のみで成功しています。転送で失敗しないよう d={domain} の DKIM 署名を追加してください（{messages} 通）。" },
	{ "step.run_enrich",
	  "Run dmarcstat enrich: {sources} sources are not looked up yet.",
	  "dmarcstat enrich を実行してください。{sources} 件の送信元が未取得です。" },
	{ "step.review_unknown",
	  "Review {sources} unidentified sources ({messages} messages): approve yours, reject the others.",
	  "識別できない送信元 {sources} 件（{messages} 通）を確認し、自社のものは承認、それ以外は拒否として登録してください。" },
	{ "step.forwarded_info",
	  "{messages} forwarded messages are counted apart. Do not add forwarders to SPF; aligned DKIM is what survives forwarding.",
	  "転送メール {messages} 通は別に集計しています。転送サーバを SPF に追加しないでください。転送後も残るのはアラインメントした DKIM 署名です。" },
	{ "step.spoofing_info",
	  "{messages} messages from {sources} sources look like spoofing; enforcement will stop them.",
	  "{sources} 件の送信元からの {messages} 通はなりすましの疑いがあります。ポリシーを強化すると止められます。" },
	{ "step.rejected_passes",
	  "{who}, which you rejected, passes DMARC: remove it from SPF or rotate the DKIM key.",
	  "拒否として登録した {who} が DMARC に成功しています。SPF から外すか DKIM 鍵を更新してください。" },
	{ "step.policy_keep",
	  "Keep p={p} until the steps above are done, then check readiness again.",
	  "上記の対応が終わるまで p={p} を維持し、その後もう一度確認してください。" },
	{ "step.policy_next",
	  "Publish p={next} for {domain}; watch the reports for a week or two before the next step.",
	  "{domain} に p={next} を公開し、次の段階の前に 1〜2 週間レポートを確認してください。" },
	{ "step.policy_pct",
	  "Raise pct to 100 (or remove it) for {domain}.",
	  "{domain} の pct を 100 にする（または削除する）してください。" },
	{ "step.policy_sp",
	  "Set sp=reject (or remove sp) for {domain} so that subdomains are protected too.",
	  "サブドメインも保護されるよう {domain} の sp を reject にする（または削除する）してください。" },
	{ "step.collect_more",
	  "Collect more reports: at least 14 days from 2 or more reporters.",
	  "レポートをさらに集めてください（14 日以上、2 社以上）。" },

	/* CLI labels */
	{ "label.ip", "IP", "IP" },
	{ "label.host", "host", "ホスト" },
	{ "label.group", "group", "グループ" },
	{ "label.service", "service", "サービス" },
	{ "label.asn", "AS", "AS" },
	{ "label.country", "cc", "国" },
	{ "label.class", "class", "分類" },
	{ "label.messages", "messages", "通数" },
	{ "label.pass", "pass %", "成功率" },
	{ "label.sources", "sources", "送信元" },
	{ "label.reason", "reason", "理由" },
	{ "label.advice", "advice", "対処" },
	{ "label.verdict", "Verdict", "判定" },
	{ "label.policy", "Published policy", "公開ポリシー" },
	{ "label.simulation", "Simulation", "シミュレーション" },
	{ "label.checklist", "Checklist", "チェックリスト" },
	{ "label.steps", "Next steps", "次の手順" },
	{ "label.would_hit", "would hit", "影響" },
	{ "label.legit_hit", "legitimate", "正当" },
	{ "label.forwarded_hit", "forwarded", "転送" },
	{ "label.spoofing_hit", "spoofing", "なりすまし" },
	{ "label.unknown_hit", "unknown", "不明" },
	{ "label.own", "your own", "自社" },
	{ "label.not_resolved", "not resolved", "未解決" },
	{ "label.pending", "pending", "未取得" },
	{ "label.no_ptr", "(no PTR)", "（PTR なし）" },
	{ "label.your_server", "your server", "自社サーバ" },
	{ "label.this_source", "this source", "この送信元" },

	/* usage texts of the CLI commands (src/cli/cmd_{enrich,senders,readiness,sources}.c) */
	{ "usage.enrich",
	  "usage: dmarcstat enrich [--resolver ADDR[:PORT]] [--offline] [--concurrency N] [--timeout MS]\n"
	  "       [--tries N] [--refresh] [--limit N] [--mmdb FILE] [--locdb FILE] [--json] [IP...]\n"
	  "Looks up the source IPs that have no fresh entry: reverse DNS (forward-confirmed), base domain,\n"
	  "ASN, AS name, country and known service.  Offline, IPs are marked not resolved at once.",
	  "使い方: dmarcstat enrich [--resolver ADDR[:PORT]] [--offline] [--concurrency N] [--timeout MS]\n"
	  "       [--tries N] [--refresh] [--limit N] [--mmdb FILE] [--locdb FILE] [--json] [IP...]\n"
	  "未調査の送信元 IP について、逆引き DNS（正引き確認付き）、ベースドメイン、AS 番号・AS 名、国、\n"
	  "既知のサービスを調べます。オフラインでは待たずに「未解決」として記録します。" },
	{ "usage.senders",
	  "usage: dmarcstat senders [--domain D] [--reporter R] [--since WHEN] [--until WHEN] [--limit N] [--catalog] [--json|--csv]\n"
	  "Sending sources grouped by the organisational domain of their host name or by known service.\n"
	  "--catalog lists the known-senders catalog.",
	  "使い方: dmarcstat senders [--domain D] [--reporter R] [--since WHEN] [--until WHEN] [--limit N] [--catalog] [--json|--csv]\n"
	  "送信元をホスト名の組織ドメインまたは既知のサービスごとにまとめて表示します。\n"
	  "--catalog は既知の送信サービスの一覧を表示します。" },
	{ "usage.readiness",
	  "usage: dmarcstat readiness DOMAIN [--since WHEN] [--until WHEN] [--days N] [--json]\n"
	  "Published policy, what p=quarantine / p=reject would hit, verdict, checklist and next steps.",
	  "使い方: dmarcstat readiness DOMAIN [--since WHEN] [--until WHEN] [--days N] [--json]\n"
	  "公開ポリシー、p=quarantine / p=reject にした場合の影響、判定、チェックリスト、次の手順を表示します。" },
	{ "usage.sources",
	  "usage: dmarcstat sources [show] [--domain D] [--class C] [--source IP] [--since WHEN] [--until WHEN] [--sort messages|ip|class|pass] [--limit N] [--json|--csv]\n"
	  "       dmarcstat sources approve|reject|tag [IP/CIDR | --host GLOB | --service ID | --dkim DOMAIN]\n"
	  "                 [--tag NAME] [--note TEXT] [--for-domain D]\n"
	  "       dmarcstat sources list | remove ID\n"
	  "Classes: legitimate misconfigured forwarded spoofing unknown.",
	  "使い方: dmarcstat sources [show] [--domain D] [--class C] [--source IP] [--since WHEN] [--until WHEN] [--sort messages|ip|class|pass] [--limit N] [--json|--csv]\n"
	  "       dmarcstat sources approve|reject|tag [IP/CIDR | --host GLOB | --service ID | --dkim DOMAIN]\n"
	  "                 [--tag NAME] [--note TEXT] [--for-domain D]\n"
	  "       dmarcstat sources list | remove ID\n"
	  "分類: legitimate（正当） misconfigured（設定不備） forwarded（転送） spoofing（なりすまし疑い） unknown（不明）" },
};

#define MESSAGES_N (sizeof(messages_table) / sizeof(messages_table[0]))

size_t
messages_count(void)
{
	return MESSAGES_N;
}

const char *
messages_key(size_t i)
{
	return i < MESSAGES_N ? messages_table[i].key : NULL;
}

const char *
messages_get(const char *key, const char *lang)
{
	int ja = lang != NULL && strncmp(lang, "ja", 2) == 0;

	for (size_t i = 0; i < MESSAGES_N; i++)
		if (strcmp(messages_table[i].key, key) == 0)
			return ja ? messages_table[i].ja : messages_table[i].en;
	return NULL;
}

/* Appends n bytes to a growing string. */
static void
messages_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 128;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

char *
messages_render(const char *key, const char *lang, const json_t *params)
{
	const char *t = messages_get(key, lang);
	char *out = NULL;
	size_t len = 0, cap = 0;

	if (t == NULL)
		return xstrdup(key);
	messages_append(&out, &len, &cap, "", 0);
	while (*t) {
		const char *open = strchr(t, '{');
		const char *close = open ? strchr(open, '}') : NULL;
		char name[32], num[32];
		const json_t *v;

		if (open == NULL || close == NULL || (size_t)(close - open - 1) >= sizeof(name)) {
			messages_append(&out, &len, &cap, t, strlen(t));
			break;
		}
		messages_append(&out, &len, &cap, t, (size_t)(open - t));
		memcpy(name, open + 1, (size_t)(close - open - 1));
		name[close - open - 1] = '\0';
		v = params ? json_object_get(params, name) : NULL;
		if (json_is_string(v))
			messages_append(&out, &len, &cap, json_string_value(v), strlen(json_string_value(v)));
		else if (json_is_integer(v)) {
			int n = snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			messages_append(&out, &len, &cap, num, (size_t)n);
		} else if (json_is_real(v)) {
			int n = snprintf(num, sizeof(num), "%.1f", json_real_value(v));
			messages_append(&out, &len, &cap, num, (size_t)n);
		}
		t = close + 1;
	}
	return out;
}

json_t *
messages_json(const char *key, const json_t *params)
{
	char *en = messages_render(key, "en", params);
	char *ja = messages_render(key, "ja", params);
	json_t *o = json_pack("{s:s, s:s}", "en", en, "ja", ja);

	free(en);
	free(ja);
	return o;
}
