"""The lab registry: the single source of truth for which labs the suite ships.

The launcher builds its tabs from `LABS`, `spaces/export.py` builds each Space's front matter and
requirements from it, and the tests are parametrised over it. A lab enters this list when it is
built; there are no placeholder tabs.

Adding a lab: copy a lab folder, rename it to its slug, write `requirements/<slug>.txt`, and add
one `Lab(...)` entry below. The slug is also the tab id, the `api_name` prefix, the Space name,
the requirements file name and the test file name.
"""

from __future__ import annotations

from dataclasses import dataclass

# The ten slugs in workshop order; `number` in each entry is its position here (1-based).
SEED_ORDER = (
    "wheel_packaging",
    "keda_autoscaling",
    "cuda_benchmark",
    "transformers_tour",
    "cpp_wrapping",
    "torch_vs_tf",
    "dataset_distillation",
    "cloud_sdks",
    "docker_mlops",
    "png_to_glb",
)


@dataclass(frozen=True)
class Lab:
    """One lab of the suite.

    Attributes:
        slug: Folder name under `labs/`, tab id, `api_name` prefix and Space name.
        title: Human title shown on the tab and the Space card.
        emoji: One emoji for the Space card.
        summary: One line on what the lab does (also the Space's `short_description`, <= 60 chars).
        learn: Two to four bullets: what a participant will learn.
        minutes: About how long the lab takes in a workshop.
        needs: Import names the lab needs beyond the base install (checked without importing).
        hardware: Suggested Hugging Face Space hardware, or None for the free CPU tier.
        color_from: Space card gradient start (one of Hugging Face's colour names).
        color_to: Space card gradient end.
    """

    slug: str
    title: str
    emoji: str
    summary: str
    learn: tuple[str, ...]
    minutes: int
    needs: tuple[str, ...] = ()
    hardware: str | None = None
    color_from: str = "blue"
    color_to: str = "indigo"

    @property
    def number(self) -> int:
        """Position of the lab in the workshop (1-based)."""
        return SEED_ORDER.index(self.slug) + 1

    @property
    def requirements_file(self) -> str:
        """Path, relative to the repository root, of the lab's own requirements."""
        return f"requirements/{self.slug}.txt"


_ENTRIES = (
    Lab(
        slug="png_to_glb",
        title="PNG to GLB",
        emoji="🧊",
        summary="Extrude an image by brightness into a 3D model (GLB/OBJ/STL)",
        learn=(
            "Turn pixels into a height map with torch (luminance, gamma, smoothing)",
            "Build a mesh by hand: shared vertices, merged flat regions, watertight solids",
            "Write glTF 2.0 binary yourself: primitives, materials, alpha, vertex colours",
            "Use a transformers depth-estimation model as a second height source",
        ),
        minutes=20,
        needs=("torch", "trimesh", "scipy"),
        color_from="purple",
        color_to="blue",
    ),
)

# Ordered by the workshop's seed order, whatever order the entries above were written in.
LABS: tuple[Lab, ...] = tuple(sorted(_ENTRIES, key=lambda lab: lab.number))


def get(slug: str) -> Lab:
    """Return the registered lab called `slug`.

    Raises:
        KeyError: If no lab has that slug; the message lists the registered slugs.
    """
    for lab in LABS:
        if lab.slug == slug:
            return lab
    raise KeyError(f"no lab called {slug!r}; registered labs: {', '.join(l.slug for l in LABS)}")
