/* Reference harness for the differential tests: reads "A<TAB>B" lines on stdin and
 * prints "<", "=" or ">" as libdpkg (the library behind `dpkg --compare-versions`)
 * orders them, or "!" when libdpkg rejects either version (error or warning).
 * Built at test time with: cc dpkgcmp.c $(pkg-config --cflags --libs libdpkg). */
#define LIBDPKG_VOLATILE_API 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dpkg/dpkg.h>
#include <dpkg/dpkg-db.h>
#include <dpkg/version.h>
#include <dpkg/error.h>

static int parse(struct dpkg_version *v, const char *text)
{
	struct dpkg_error err = DPKG_ERROR_INIT;
	int rc = parseversion(v, text, &err);
	dpkg_error_destroy(&err);
	return rc;
}

int main(void)
{
	char line[8192];

	while (fgets(line, sizeof(line), stdin)) {
		struct dpkg_version a, b;
		char *tab, *nl;
		int r;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		tab = strchr(line, '\t');
		if (!tab) {
			puts("?");
			continue;
		}
		*tab = '\0';
		if (parse(&a, line) < 0 || parse(&b, tab + 1) < 0) {
			puts("!");
			continue;
		}
		r = dpkg_version_compare(&a, &b);
		puts(r < 0 ? "<" : r > 0 ? ">" : "=");
	}
	return 0;
}
