"""Each cloud's naming rules for buckets, containers, queues and objects, checked before any call.

The emulators are more lenient than the real services (Azurite accepts some names Azure refuses),
so the lab checks names itself, with the rules from each provider's documentation:
- Amazon S3: "General purpose bucket naming rules"; SQS: "Amazon SQS queue quotas".
- Azure: "Naming and Referencing Containers, Blobs, and Metadata"; "Naming Queues and Metadata".
- Google Cloud Storage: "Bucket naming guidelines" and "Object naming requirements".
"""

from __future__ import annotations

import re

from shared import serving

MAX_KEY_BYTES = 1024  # S3 keys, GCS object names and Azure blob names all stop at 1024 (bytes/chars)
MAX_CHECKED_CHARS = 1024  # shared mode: the longest name the checker accepts (no cloud allows over 1024)
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


class NamingError(ValueError):
    """A name breaks a cloud's rules; the message lists every broken rule and a fix."""


def s3_bucket_problems(name: str) -> list[str]:
    """Rules broken by `name` as an S3 general-purpose bucket name (empty list: valid)."""
    p = []
    if not 3 <= len(name) <= 63:
        p.append(f"must be 3-63 characters long (it has {len(name)})")
    if not re.fullmatch(r"[a-z0-9.-]*", name):
        p.append("may contain only lowercase letters, digits, dots and hyphens")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        p.append("must begin and end with a letter or digit")
    if ".." in name:
        p.append("must not contain two adjacent dots")
    if _IP.match(name):
        p.append("must not look like an IP address")
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            p.append(f"must not start with the reserved prefix '{prefix}'")
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            p.append(f"must not end with the reserved suffix '{suffix}'")
    return p


def azure_container_problems(name: str) -> list[str]:
    """Rules broken by `name` as an Azure Blob container name."""
    p = []
    if not 3 <= len(name) <= 63:
        p.append(f"must be 3-63 characters long (it has {len(name)})")
    if not re.fullmatch(r"[a-z0-9-]*", name):
        p.append("may contain only lowercase letters, digits and hyphens (no dots or underscores)")
    if name and not name[0].isalnum():
        p.append("must start with a letter or digit")
    if name.endswith("-") or "--" in name:
        p.append("every hyphen must be between letters or digits (no '--', no trailing '-')")
    return p


def gcs_bucket_problems(name: str) -> list[str]:
    """Rules broken by `name` as a Google Cloud Storage bucket name."""
    p = []
    limit = 222 if "." in name else 63
    if not 3 <= len(name) <= limit:
        p.append(f"must be 3-{limit} characters long (it has {len(name)})")
    if "." in name and any(len(part) > 63 for part in name.split(".")):
        p.append("each dot-separated part must be at most 63 characters")
    if not re.fullmatch(r"[a-z0-9._-]*", name):
        p.append("may contain only lowercase letters, digits, hyphens, underscores and dots")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        p.append("must begin and end with a letter or digit")
    if name.startswith("goog"):
        p.append("must not begin with 'goog'")
    if re.search(r"g[o0]{2}g[l1]e", name):
        p.append("must not contain 'google' or a close misspelling")
    if _IP.match(name):
        p.append("must not look like an IP address")
    return p


def azure_queue_problems(name: str) -> list[str]:
    """Rules broken by `name` as an Azure Storage queue name."""
    return azure_container_problems(name)  # the same rules as containers


def sqs_queue_problems(name: str) -> list[str]:
    """Rules broken by `name` as an Amazon SQS queue name."""
    p = []
    base = name[:-5] if name.endswith(".fifo") else name
    if not 1 <= len(name) <= 80:
        p.append(f"must be 1-80 characters long (it has {len(name)})")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", base):
        p.append("may contain only letters, digits, hyphens and underscores (plus a '.fifo' suffix for FIFO queues)")
    return p


def object_name_problems(name: str) -> list[str]:
    """Rules broken by `name` as an object/blob name on all three clouds (the strictest union)."""
    p = []
    size = len(name.encode("utf-8"))
    if not 1 <= size <= MAX_KEY_BYTES:
        p.append(f"must be 1-{MAX_KEY_BYTES} bytes of UTF-8 (it has {size})")
    if "\r" in name or "\n" in name:
        p.append("must not contain carriage returns or line feeds (Cloud Storage)")
    if name in {".", ".."}:
        p.append("must not be '.' or '..' (Cloud Storage)")
    if name.startswith(".well-known/acme-challenge/"):
        p.append("must not start with '.well-known/acme-challenge/' (Cloud Storage)")
    if name.endswith((".", "/")):
        p.append("should not end with '.' or '/' (Azure drops or treats them specially)")
    elif any(part.endswith(".") for part in name.split("/")):
        p.append("must not have a path segment ending with '.', such as '..' (Azure refuses it, and URLs resolve "
                 "'.' and '..' as relative paths)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        p.append("should not contain control characters")
    return p


BUCKET_RULES = {
    "Azure Blob container": azure_container_problems,
    "Amazon S3 bucket": s3_bucket_problems,
    "Google Cloud Storage bucket": gcs_bucket_problems,
}
QUEUE_RULES = {
    "Azure Storage queue": azure_queue_problems,
    "Amazon SQS queue": sqs_queue_problems,
}


def check_all(name: str) -> list[list[str]]:
    """A table row per cloud resource kind: kind, 'valid' or 'invalid', the broken rules.

    Raises:
        NamingError: On a shared server, for a name over MAX_CHECKED_CHARS (it is not quoted back).
    """
    if serving.is_shared() and len(name) > MAX_CHECKED_CHARS:
        raise NamingError(f"That name has {len(name):,} characters; no cloud accepts more than {MAX_KEY_BYTES} "
                          f"anywhere, so this checker stops at {MAX_CHECKED_CHARS} on a shared server.")
    rows = []
    for kind, rule in {**BUCKET_RULES, **QUEUE_RULES}.items():
        problems = rule(name)
        rows.append([kind, "valid" if not problems else "invalid", "; ".join(problems) or "—"])
    return rows


def require_valid(name: str, rules: dict, what: str) -> None:
    """Raise NamingError listing, per cloud, every rule `name` breaks.

    Raises:
        NamingError: With a message like "'My_Bucket' cannot be used as a bucket name: Amazon S3
            bucket: may contain only lowercase letters...". It ends with a suggested valid name.
    """
    if not name:
        raise NamingError(f"The {what} name is empty: type one, e.g. 'ml-lab-demo'.")
    broken = [f"{kind}: {'; '.join(problems)}" for kind, rule in rules.items() if (problems := rule(name))]
    if broken:
        raise NamingError(f"'{name}' cannot be used as a {what} name on every cloud. " + " | ".join(broken)
                          + f". Try '{suggest(name)}'.")


def suggest(name: str) -> str:
    """A name close to `name` that all three clouds accept (lowercase, digits, single hyphens)."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    s = re.sub(r"g[o0]{2}g[l1]e", "gcloud", s)
    if s.startswith("goog"):
        s = "x" + s
    s = (s or "ml-lab-demo")[:63].strip("-")
    return s if len(s) >= 3 else (s + "-bucket")[:63]
