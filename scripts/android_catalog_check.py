#!/usr/bin/env python3
"""Checks android-app's version catalog against the build scripts that use it.

Gradle cannot run on the project's machines (no Android SDK, no Google
Maven), so a typo in a `libs.*` accessor would only show on a machine with
the SDK. This checks what can be checked without Gradle:

- gradle/libs.versions.toml parses as TOML;
- every `version.ref` names a version that exists, and every library and
  plugin has a version (a ref, a literal, or a BOM it is used under);
- every `libs.…` accessor in the *.gradle.kts files names an entry,
  following Gradle's mapping of aliases to accessors (`-`, `_` and `.`
  separate segments; `libs.versions.…`, `libs.plugins.…`, `libs.bundles.…`).

Usage: android_catalog_check.py ANDROID_APP_DIR
"""

import pathlib
import re
import sys
import tomllib

# Libraries whose version comes from a BOM imported with platform(...); they
# must be used next to that BOM in the same build script.
BOM_MANAGED = {"compose": "compose-bom", "junit": "junit-jupiter"}


def accessor(alias: str) -> str:
    return re.sub(r"[-_.]", ".", alias)


def main(root: pathlib.Path) -> int:
    errors = []
    catalog = tomllib.loads((root / "gradle" / "libs.versions.toml").read_text())
    versions = catalog.get("versions", {})
    libraries = catalog.get("libraries", {})
    plugins = catalog.get("plugins", {})

    known = {"versions." + accessor(v) for v in versions}
    known |= {accessor(a) for a in libraries}
    known |= {"plugins." + accessor(p) for p in plugins}
    known |= {"bundles." + accessor(b) for b in catalog.get("bundles", {})}

    for section, entries in (("libraries", libraries), ("plugins", plugins)):
        for alias, spec in entries.items():
            if isinstance(spec, str):
                continue
            ref = spec.get("version", {}).get("ref") if isinstance(spec.get("version"), dict) else None
            if ref is not None and ref not in versions:
                errors.append("%s.%s refers to unknown version %r" % (section, alias, ref))
            has_version = ref is not None or isinstance(spec.get("version"), str)
            if not has_version and section == "plugins":
                errors.append("plugins.%s has no version" % alias)
            if not has_version and section == "libraries":
                if not any(alias.startswith(prefix) for prefix in BOM_MANAGED):
                    errors.append("libraries.%s has no version and no BOM" % alias)

    scripts = sorted(root.glob("**/*.gradle.kts"))
    for script in scripts:
        if "build" in script.relative_to(root).parts[:-1]:
            continue
        # Comments may name the catalog file itself ("gradle/libs.versions.toml"); only code counts.
        text = re.sub(r"/\*.*?\*/", "", script.read_text(), flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        for match in re.finditer(r"\blibs\.([A-Za-z0-9_.]+)", text):
            path = match.group(1)
            path = re.sub(r"\.(get|asProvider)$", "", path)
            if path not in known:
                errors.append("%s uses libs.%s, which the catalog does not define" % (script.relative_to(root), path))
        # A BOM-managed library needs its BOM in the same script, or Gradle has no version for it.
        for alias, spec in libraries.items():
            if isinstance(spec, str) or "version" in spec or ("libs." + accessor(alias)) not in text:
                continue
            bom = next((b for prefix, b in BOM_MANAGED.items() if alias.startswith(prefix)), None)
            if bom == "compose-bom" and "platform(libs.%s)" % accessor(bom) not in text:
                errors.append("%s uses %s without platform(libs.%s)" % (script.relative_to(root), alias, accessor(bom)))
            if bom == "junit-jupiter" and "libs." + accessor(bom) not in text.replace("libs." + accessor(alias), ""):
                errors.append("%s uses %s without libs.%s, whose BOM gives its version" % (script.relative_to(root), alias, accessor(bom)))

    for e in errors:
        print("android-check: catalog: " + e, file=sys.stderr)
    if not errors:
        print("android-check: version catalog parses and every libs.* accessor in %d build scripts resolves" % len(scripts))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(pathlib.Path(sys.argv[1])))
