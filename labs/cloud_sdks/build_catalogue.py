"""Build the dated snapshot of every Python package associated with Azure, AWS and Google Cloud.

    python -m labs.cloud_sdks.build_catalogue LISTING.tsv      # names, versions, summaries -> data/cloud_packages.csv
    python -m labs.cloud_sdks.build_catalogue --refresh        # publisher + status from the index's metadata
    python -m labs.cloud_sdks.build_catalogue --refresh --offline   # re-apply data/pypi_metadata.jsonl only

LISTING is a tab-separated package index listing with a header line and the columns
`name, version, month, rank, summary` (month = the newest release, YYYY-MM). From it: the packages
that belong to each cloud (INCLUDE: azure-*, boto*, aws*, google-cloud-*, ... plus well-known
libraries without the prefix), a category from the name (`category`), and generated families (one
package per service, e.g. mypy-boto3-*) folded into one row each (FAMILIES).

`--refresh` then replaces the name heuristics (`publisher`) with what each package's own metadata
says (`fetch_metadata`, `derive_publisher`, `derive_status`): publisher from author/maintainer e-mail
domains, repository owners and home pages; status (GA / preview / deprecated / yanked / removed) from
the Development Status classifier, pre-release versions, yanked flags and deprecation wording. It is
bounded (REFRESH_MAX packages per run, at most MAX_WORKERS at once, timeouts), resumable (every
result is appended to the cache at once), operator-only on a shared server, and never runs at
request time: the lab reads only the snapshot, whose `rule` column says which rule decided each row.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from labs.cloud_sdks import pypi_metadata
from labs.cloud_sdks.pypi_metadata import DEPRECATED_NOTICE, DEPRECATED_WORDS, DEV_STATUS, REPO, compact  # noqa: F401

OUT = Path(__file__).with_name("data") / "cloud_packages.csv"
COLUMNS = ["cloud", "name", "version", "released", "publisher", "category", "packages", "summary", "status",
           "publisher_name", "rule", "checked"]
SUMMARY_CHARS = 90  # enough for a one-line purpose; keeps the snapshot small (~330 KB for ~3000 rows)

# The name rules and the providers' identities are data (data/catalogue_rules.json), read once here.
RULES = json.loads((Path(__file__).with_name("data") / "catalogue_rules.json").read_text(encoding="utf-8"))
INCLUDE = {cloud: (re.compile(r["pattern"]), set(r["extras"])) for cloud, r in RULES["include"].items()}
OFFICIAL_NAMES = {cloud: set(names) for cloud, names in RULES["official_names"].items()}
FAMILIES = [tuple(f) for f in RULES["families"]]  # (cloud, prefix, publisher, category, purpose)
AI_TOKENS = set(RULES["ai_tokens"])
CORE = {cloud: set(names) for cloud, names in RULES["core"].items()}
GCP_MANAGEMENT = set(RULES["gcp_management"])
# cloud: (publisher name, e-mail domains, GitHub owners, author names) -- what counts as the provider in metadata
PROVIDERS = {cloud: (p["publisher"], tuple(p["email_domains"]), tuple(p["repo_owners"]), tuple(p["author_names"]))
             for cloud, p in RULES["providers"].items()}
PROVIDER_DOMAINS = tuple(d for _, domains, _, _ in PROVIDERS.values() for d in domains)


def cloud_of(name: str) -> str | None:
    """Which cloud a package name belongs to (None: not a cloud package)."""
    for cloud, (pattern, extras) in INCLUDE.items():
        if pattern.match(name) or name in extras:
            return cloud
    return None


def publisher(cloud: str, name: str, summary: str) -> str:
    """'official' when the provider publishes it (heuristic), else 'community'."""
    if name in OFFICIAL_NAMES[cloud]:
        return "official"
    if cloud == "Azure":
        # Microsoft's packages say so at the start of their summary ("Microsoft Azure ... Client Library").
        return "official" if summary.startswith("Microsoft") or name.startswith("azureml") else "community"
    if cloud == "AWS":
        return "official" if name.startswith(("aws-cdk-", "awslabs-")) or (
            name.startswith("sagemaker") and ("Amazon" in summary or "SageMaker" in summary and "AWS" in summary)) else "community"
    return "official" if name.startswith("google-cloud-") and ("Google" in summary or "API client library" in summary) \
        else "community"


def category(cloud: str, name: str) -> str:
    """A coarse category from the name (the same rules for every row of a cloud)."""
    tokens = set(re.split(r"[-_.]", name))
    if name in CORE[cloud]:
        return "Core SDK & identity"
    if tokens & {"stubs", "types", "mypy"}:
        return "Type stubs"
    if "cli" in tokens or name.startswith(("awscli", "azure-cli")):
        return "CLI & tooling"
    # CDK before AI: "aws-cdk-asset-node-proxy-agent" is a CDK asset, not an AI agent.
    if cloud == "AWS" and (tokens & {"cdk", "cloudformation", "cfn", "sam", "constructs"}):
        return "Infrastructure as code"
    if tokens & AI_TOKENS or name.startswith("azureml"):
        return "AI / ML"
    if cloud == "Azure" and "mgmt" in tokens:
        return "Management (control plane)"
    if cloud == "Google Cloud" and any(t in name for t in GCP_MANAGEMENT):
        return "Management (control plane)"
    return "Data plane & services"


# --- Status and publisher from the index's own metadata ------------------------------------------
# The listing gives names, versions and summaries; who publishes a package and whether it is still
# supported are in each release's metadata. `refresh` reads it from PyPI's Simple API (PEP 691 JSON:
# files, versions, yanked flags) and from the newest release's METADATA file, which it reads out of
# the wheel with HTTP range requests (only the zip directory and that one member, a few KB), or from
# a small sdist's PKG-INFO. What it learns is kept in METADATA_CACHE (one JSON line per package, so an
# interrupted refresh resumes where it stopped) and folded into the snapshot by `apply_metadata`.

METADATA_CACHE = Path(__file__).with_name("data") / "pypi_metadata.jsonl"
REFRESH_MAX = 400  # packages fetched per run: a polite few hundred; run again to resume
WORKERS = 6  # concurrent packages (at most MAX_WORKERS)
MAX_WORKERS = 8


def fetch_metadata(name: str, today: str) -> dict:
    """`pypi_metadata.fetch_metadata`, keeping project URLs on any provider's own domains."""
    return pypi_metadata.fetch_metadata(name, today, url_domains=PROVIDER_DOMAINS)




def _domain(address: str) -> str:
    found = re.findall(r"@([\w.-]+)", address or "")
    return found[0].lower().rstrip(".>") if found else ""


def _repos(meta: dict) -> list[str]:
    """Repository URLs named in Home-page and Project-URL ("host/owner/repo")."""
    out = []
    for url in [meta.get("home_page", ""), *meta.get("project_urls", [])]:
        for host, owner, repo in REPO.findall(url):
            out.append(f"{host.lower()}/{owner}" + (f"/{repo}" if repo else ""))
    return out


def derive_publisher(cloud: str, meta: dict) -> tuple[str, str, str]:
    """(official|community, publisher name, rule) from e-mail domains, repository owners, author names.

    The order is the order of trust: an e-mail domain of the provider, then a repository under one of
    its organisations, then an author name. Anything else is community, named by its author.
    """
    provider, domains, owners, names = PROVIDERS[cloud]
    for field in ("author_email", "maintainer_email", "author", "maintainer"):  # jsii writes "Name<mail>" as author
        dom = _domain(meta.get(field, ""))
        if dom and any(dom == d or dom.endswith("." + d) for d in domains):
            return "official", provider, f"publisher from {field.replace('_', ' ')} @{dom}"
    for repo in _repos(meta):
        host, owner = repo.split("/")[:2]
        if host == "github.com" and owner.lower() in owners:
            return "official", provider, f"publisher from repository {repo}"
    for url in [meta.get("home_page", ""), *meta.get("project_urls", [])]:
        host = re.match(r"[^,]*?https?://([^/\s:]+)", url or "")
        if host and any(host.group(1).lower().endswith(d) for d in domains):
            return "official", provider, f"publisher from home page on {host.group(1).lower()}"
    for field in ("author", "maintainer"):
        who = re.sub(r"\s*<.*", "", meta.get(field, "")).strip().lower()
        if who and who in names:
            return "official", provider, f"publisher from {field} name '{meta[field]}'"
    repos = _repos(meta)
    who = (re.sub(r"\s*<.*", "", meta.get("author") or meta.get("maintainer") or "").strip()
           or re.sub(r"\s*<?@.*", "", meta.get("author_email", "")).strip(' "')
           or (repos[0].split("/")[1] if repos else "")
           or (f"an address at {_domain(meta.get('author_email', ''))}" if _domain(meta.get("author_email", "")) else ""))
    why = (f"author {who!r}" if who else "no author") + (f", repository {repos[0]}" if repos else "")
    return "community", who[:60] or "unknown", f"community: no {provider} e-mail, repository or home page ({why})"


def derive_status(meta: dict) -> tuple[str, str]:
    """(GA|preview|deprecated|yanked|removed, rule) for the newest usable release."""
    from packaging.version import InvalidVersion, Version

    if meta.get("missing"):
        return "removed", "status: the index has no such project any more (HTTP 404)"
    version = meta.get("version", "")
    if meta.get("all_yanked"):
        why = f" ({meta['yanked_reason'][:60]})" if meta.get("yanked_reason") else ""
        return "yanked", f"status: every release is yanked on the index{why}"
    dev = DEV_STATUS.match(meta.get("dev_status", ""))
    if dev and dev.group(1) == "7":
        return "deprecated", f"status from classifier '{meta['dev_status']}'"
    hit = DEPRECATED_WORDS.search(meta.get("summary", ""))
    if hit:
        return "deprecated", f"status from summary: '{meta['summary'][:80]}'"
    if meta.get("description_note"):
        return "deprecated", f"status from description: '{meta['description_note'][:100]}'"
    try:
        pre = Version(version).is_prerelease
    except InvalidVersion:
        pre = False
    if pre:
        return "preview", f"status: newest release {version} is a pre-release and there is no final one"
    if dev and int(dev.group(1)) <= 4:
        return "preview", f"status from classifier '{meta['dev_status']}' ({version})"
    if dev:
        return "GA", f"status from classifier '{meta['dev_status']}' ({version})"
    if not version:
        return "unknown", f"status unknown: {meta.get('metadata_from', 'no files')}"
    return "GA", f"status: final release {version}, no Development Status classifier"


def listing_status(version: str, summary: str) -> tuple[str, str]:
    """Status from the listing alone (no metadata fetched): version suffix, deprecation words."""
    from packaging.version import InvalidVersion, Version

    if DEPRECATED_WORDS.search(summary or ""):
        return "deprecated", "status from the summary's wording (listing)"
    try:
        if version and Version(version).is_prerelease:
            return "preview", f"status: {version} is a pre-release (listing)"
    except InvalidVersion:
        pass
    return "not checked", "status not checked"


def family_member(row: dict[str, str]) -> str:
    """The example member a folded family row is checked by (the first 'e.g.' name in its summary)."""
    found = re.search(r"e\.g\. ([\w.-]+)", row.get("summary", ""))
    return found.group(1) if found else ""


def apply_metadata(row: dict[str, str], cache: dict[str, dict]) -> dict[str, str]:
    """The row with publisher, publisher name, status and rule from metadata when known, else heuristics."""
    row = dict(row)
    family = row["name"].endswith("*")
    key = family_member(row) if family else row["name"]
    meta = cache.get(key)
    if not meta or meta.get("error"):
        row["status"], status_rule = listing_status(row.get("version", ""), row.get("summary", ""))
        row["publisher_name"] = ""
        row["rule"] = f"publisher by name heuristic, metadata not fetched; {status_rule}"
        row["checked"] = ""
        return row
    if meta.get("missing"):
        row["publisher_name"], pub_rule = "", "publisher unknown"
    elif meta.get("metadata_from") and not any(meta.get(k) for k in ("author", "author_email", "maintainer",
                                                                        "maintainer_email", "home_page", "project_urls")):
        pub_rule = f"publisher by name heuristic (metadata has no author: {meta.get('metadata_from', '')[:60]})"
        row["publisher_name"] = ""
    else:
        row["publisher"], row["publisher_name"], pub_rule = derive_publisher(row["cloud"], meta)
    row["status"], status_rule = derive_status(meta)
    if meta.get("version") and not family:
        row["version"] = meta["version"]
    prefix = f"checked on member {key}: " if family else ""
    row["rule"] = f"{prefix}{pub_rule}; {status_rule}"
    row["checked"] = meta.get("checked", "")
    return row


def load_cache(path: Path = METADATA_CACHE) -> dict[str, dict]:
    """Every package's newest cached metadata (the last line for a name wins)."""
    cache = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = compact(json.loads(line))
                cache[entry["name"]] = entry
    return cache


def refresh_targets(rows: list[dict[str, str]], cache: dict[str, dict], default_rows: int = 500) -> list[str]:
    """Packages to check, most visible first: the rows the table shows by default (official only, the
    first `default_rows`), then every other row a name heuristic calls official, then rows already
    cached (so a row demoted to community stays checked)."""
    names, default_view = [], set()
    for row in rows:  # rows are sorted as the table shows them
        name = family_member(row) if row["name"].endswith("*") else row["name"]
        heuristic = row["publisher"] if row["name"].endswith("*") else publisher(row["cloud"], row["name"], row["summary"])
        if name and (row["publisher"] == "official" or heuristic == "official" or name in cache):
            names.append(name)
        if name and row["publisher"] == "official" and len(default_view) < default_rows:
            default_view.add(name)
    return sorted(dict.fromkeys(names), key=lambda n: n not in default_view)


def refresh(rows: list[dict[str, str]], *, limit: int = REFRESH_MAX, workers: int = WORKERS,
            cache_path: Path = METADATA_CACHE, today: str | None = None, stale_days: int = 30,
            fetch=fetch_metadata, log=print) -> dict[str, dict]:
    """Fetch metadata for up to `limit` targets that are not cached (or older than `stale_days`).

    Each result is appended to `cache_path` as soon as it arrives, so a stopped run resumes.
    Refused on a shared server: it is the operator's job, never a visitor's, and never run per request.
    """
    import concurrent.futures as cf
    import time

    from shared import serving

    serving.operator_only("refreshing the package snapshot from the package index")
    today = today or dt.date.today().isoformat()
    cache = load_cache(cache_path)
    cutoff = (dt.date.fromisoformat(today) - dt.timedelta(days=stale_days)).isoformat()
    todo = [n for n in refresh_targets(rows, cache)
            if n not in cache or cache[n].get("error") or cache[n].get("checked", "") < cutoff][:max(0, limit)]
    started = time.monotonic()

    def one(name: str) -> dict:
        try:
            return fetch(name, today)
        except Exception as exc:  # recorded, retried on the next run
            return {"name": name, "checked": today, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with cf.ThreadPoolExecutor(max_workers=max(1, min(workers, MAX_WORKERS))) as pool, \
            open(cache_path, "a", encoding="utf-8") as fh:
        futures = [pool.submit(one, name) for name in todo]
        for done, future in enumerate(cf.as_completed(futures), 1):  # written from this thread as each finishes
            entry = future.result()
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            cache[entry["name"]] = entry
            if done % 50 == 0 or done == len(todo):
                log(f"{done}/{len(todo)} packages checked in {time.monotonic() - started:.0f} s")
    # One line per package again (a resumed or repeated run appended newer lines), sorted for small diffs.
    cache_path.write_text("".join(json.dumps(cache[n], sort_keys=True) + "\n" for n in sorted(cache)), encoding="utf-8")
    return cache


def read_listing(path: Path) -> list[dict[str, str]]:
    """Rows of the listing as dicts with name, version, month, summary."""
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        idx = {col: header.index(col) for col in ("name", "version", "month", "summary")}
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= len(header):
                rows.append({col: parts[i].strip() for col, i in idx.items()})
    return rows


def build(rows: list[dict[str, str]], cache: dict[str, dict] | None = None) -> list[dict[str, str]]:
    """The snapshot rows: one per package, families folded, sorted by cloud then name.

    With `cache` (see `load_cache`), publisher and status come from each package's index metadata where
    it was fetched; the `rule` column says which rule decided, per row.
    """
    out, families = [], defaultdict(list)
    order = list(INCLUDE)
    for row in rows:
        name = row["name"].lower()
        cloud = cloud_of(name)
        if not cloud:
            continue
        family = next((f for f in FAMILIES if f[0] == cloud and name.startswith(f[1])), None)
        if family:
            families[family].append(row)
            continue
        summary = re.sub(r"\s+", " ", row["summary"])[:SUMMARY_CHARS]
        out.append({"cloud": cloud, "name": name, "version": row["version"], "released": row["month"],
                    "publisher": publisher(cloud, name, row["summary"]), "category": category(cloud, name),
                    "packages": "1", "summary": summary})
    for (cloud, prefix, pub, cat, purpose), members in families.items():
        examples = ", ".join(sorted(m["name"] for m in members)[:3])
        out.append({"cloud": cloud, "name": prefix + "*", "version": "", "released": max(m["month"] for m in members),
                    "publisher": pub, "category": cat, "packages": str(len(members)),
                    "summary": f"{purpose}; e.g. {examples}"[:SUMMARY_CHARS + 60]})
    out.sort(key=lambda r: (order.index(r["cloud"]), r["name"]))
    return [apply_metadata(r, cache or {}) for r in out]


PROVENANCE = ("category from names; publisher and status from each package's index metadata where checked "
              "(see the rule column), else from name heuristics")


def write(rows: list[dict[str, str]], out: Path, date: str, source: str, checked: str = "") -> None:
    """Write the snapshot: comment lines (date, source, metadata check), a header, the rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# snapshot-date: {date}\n")
        if checked:
            fh.write(f"# metadata-checked: {checked}\n")
        fh.write(f"# built by labs/cloud_sdks/build_catalogue.py from a package index listing ({source}); {PROVENANCE}\n")
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def checked_line(rows: list[dict[str, str]]) -> str:
    """'DATE (N of M rows)' for the metadata-checked header, from the rows' own check dates."""
    dates = [r["checked"] for r in rows if r.get("checked")]
    return f"{max(dates)} ({len(dates)} of {len(rows)} rows, from the package index's metadata)" if dates else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the cloud packages snapshot from a package index listing, "
                                                 "or refresh its publisher/status columns from the index's metadata.")
    parser.add_argument("listing", type=Path, nargs="?",
                        help="tab-separated listing: name, version, month, rank, summary (omit with --refresh)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT.name} in data/)")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="snapshot date to record (default: today)")
    parser.add_argument("--cache", type=Path, default=METADATA_CACHE, help="metadata cache, JSON lines (resumable)")
    parser.add_argument("--refresh", action="store_true",
                        help="fetch metadata for the official and default-view rows of the snapshot in --out")
    parser.add_argument("--max", type=int, default=REFRESH_MAX, help=f"packages fetched per run (default {REFRESH_MAX})")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"concurrent packages, at most {MAX_WORKERS}")
    parser.add_argument("--offline", action="store_true", help="with --refresh: only re-apply the cache, fetch nothing")
    args = parser.parse_args(argv)
    if args.refresh:
        from labs.cloud_sdks import catalogue

        snap = catalogue.load.__wrapped__(args.out)
        rows = [dict(r, category=r["category"] if r["name"].endswith("*") else category(r["cloud"], r["name"]))
                for r in snap.rows]  # category rules may have changed since the listing build
        cache = load_cache(args.cache) if args.offline else refresh(
            rows, limit=args.max, workers=args.workers, cache_path=args.cache,
            log=lambda m: print(m, file=sys.stderr))
        snapshot = [apply_metadata(r, cache) for r in rows]
        source = re.sub(r"^built by .*? listing \((.*?)\);.*$", r"\1", snap.source)
        write(snapshot, args.out, snap.date, source, checked_line(snapshot))
        errors = sum(1 for r in snapshot if (cache.get(family_member(r) if r["name"].endswith("*") else r["name"]) or {})
                     .get("error"))
        print(f"{sum(1 for r in snapshot if r['checked'])} of {len(snapshot)} rows checked against the index "
              f"({errors} errors, retried on the next run); wrote {args.out}", file=sys.stderr)
        return
    if not args.listing:
        parser.error("give a LISTING.tsv, or --refresh")
    rows = read_listing(args.listing)
    newest = max((r["month"] for r in rows if re.fullmatch(r"\d{4}-\d{2}", r["month"])), default="unknown")
    snapshot = build(rows, load_cache(args.cache))
    write(snapshot, args.out, args.date, f"{len(rows)} packages, newest release {newest}", checked_line(snapshot))
    counts = defaultdict(int)
    for r in snapshot:
        counts[r["cloud"]] += int(r["packages"])
    print(f"wrote {len(snapshot)} rows ({dict(counts)} packages) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
