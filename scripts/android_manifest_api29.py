#!/usr/bin/env python3
"""Writes the API-29 variant of the app's manifest that scripts/android-check.sh links.

Debian's android-framework-res is API 29, and aapt2 refuses manifest values
that API 29 does not define, including numeric flag values. The app targets a
newer API, so this removes exactly the items added after API 29, each checked
against the names the newer platform defines and each printed:

- foreground-service types added after API 29 (a service keeps its API-29
  types; the attribute goes only if none is left);
- the <property> element (API 31), e.g. the specialUse subtype;
- attributes added after API 29 that the app uses.

A name that is in neither list (a typo, an invented type) is an error here,
and everything else is left for aapt2 to check. Two checks that aapt2 cannot
make against API 29 are made here: every foreground-service type a service
declares has its FOREGROUND_SERVICE_<TYPE> permission (Android 14 refuses to
start the service otherwise), and the `package` the Gradle build sets through
`namespace` is put on the variant, since aapt2 needs it. The real manifest is not
changed; the variant is written to the path given and never packaged.
"""

import sys
import xml.etree.ElementTree as ET

ANDROID = "http://schemas.android.com/apk/res/android"
TOOLS = "http://schemas.android.com/tools"

# Foreground-service types API 29 defines (frameworks/base attrs.xml, Q).
FGS_TYPES_API29 = {"dataSync", "mediaPlayback", "phoneCall", "location", "connectedDevice", "mediaProjection"}
# Types added later, with the API level that added them (ServiceInfo.FOREGROUND_SERVICE_TYPE_*).
FGS_TYPES_NEWER = {
    "camera": 30,
    "microphone": 30,
    "health": 34,
    "remoteMessaging": 34,
    "shortService": 34,
    "specialUse": 34,
    "systemExempted": 34,
    "mediaProcessing": 35,
}
# Attributes added after API 29 that the app may use, with their API level.
ATTRIBUTES_NEWER = {
    "dataExtractionRules": 31,
    "enableOnBackInvokedCallback": 33,
    "localeConfig": 33,
}
# Elements added after API 29: <property> (API 31) under these parents.
PROPERTY_PARENTS = {"application", "activity", "activity-alias", "service", "receiver", "provider"}


def attr(name: str) -> str:
    return "{%s}%s" % (ANDROID, name)


def permission_for(fgs_type: str):
    """FOREGROUND_SERVICE_<TYPE> for a type (shortService needs none)."""
    if fgs_type == "shortService":
        return None
    snake = "".join("_" + c if c.isupper() else c.upper() for c in fgs_type)
    return "android.permission.FOREGROUND_SERVICE_" + snake


def main(src: str, dst: str, package: str) -> int:
    ET.register_namespace("android", ANDROID)
    ET.register_namespace("tools", TOOLS)
    tree = ET.parse(src)
    root = tree.getroot()
    if root.get("package"):
        print("android-check: manifest: set the package through `namespace` in build.gradle.kts, not in the manifest", file=sys.stderr)
        return 1
    root.set("package", package)
    permissions = {e.get(attr("name")) for e in root.iter("uses-permission")}
    errors = []
    removed = []

    for parent in tree.iter():
        for child in list(parent):
            if child.tag == "property":
                if parent.tag not in PROPERTY_PARENTS or not child.get(attr("name")):
                    errors.append("<property> without a name or under <%s>" % parent.tag)
                    continue
                parent.remove(child)
                removed.append("<property %s> under <%s> (API 31)" % (child.get(attr("name")), parent.tag))

    for element in tree.iter():
        label = element.get(attr("name"), element.tag)
        types = element.get(attr("foregroundServiceType"))
        if types is not None:
            kept = []
            for t in (t.strip() for t in types.split("|")):
                needed = permission_for(t)
                if needed and needed not in permissions:
                    errors.append("%s has foregroundServiceType %s but no <uses-permission %s>" % (label, t, needed))
                if t in FGS_TYPES_API29:
                    kept.append(t)
                elif t in FGS_TYPES_NEWER:
                    removed.append("foregroundServiceType %s on %s (API %d)" % (t, label, FGS_TYPES_NEWER[t]))
                else:
                    errors.append("unknown foregroundServiceType %r on %s" % (t, label))
            if kept:
                element.set(attr("foregroundServiceType"), "|".join(kept))
            else:
                del element.attrib[attr("foregroundServiceType")]
        for name, level in ATTRIBUTES_NEWER.items():
            if attr(name) in element.attrib:
                del element.attrib[attr(name)]
                removed.append("android:%s on %s (API %d)" % (name, label, level))

    if errors:
        for e in errors:
            print("android-check: manifest: " + e, file=sys.stderr)
        return 1
    tree.write(dst, encoding="utf-8", xml_declaration=True)
    for r in removed:
        print("android-check: API-29 manifest variant leaves out " + r)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: android_manifest_api29.py MANIFEST OUT PACKAGE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
