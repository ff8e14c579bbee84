"""Where the project's data lives (schemas, profiles), independent of the working directory."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
PROFILES_DIR = PACKAGE_DIR / "profiles"
DEVIATIONS_DIR = PROFILES_DIR / "deviations"
REPORTS_DIR = PROJECT_ROOT / "reports"
