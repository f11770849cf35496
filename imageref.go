package berth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The grammar of image references, as the Docker engine reads them
// (github.com/distribution/reference, which the root package does not
// import: it holds to the standard library). imageref_test.go checks that
// checkImage and reference.ParseNormalizedNamed agree.
const (
	refAlphanumeric = `[a-z0-9]+`
	refSeparator    = `(?:[._]|__|[-]+)`
	refDomainPart   = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomain       = `(?:` + refDomainPart + `(?:\.` + refDomainPart + `)*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?`
	refPathPart     = refAlphanumeric + `(?:` + refSeparator + refAlphanumeric + `)*`
	refPath         = refPathPart + `(?:/` + refPathPart + `)*`
	refTag          = `[\w][\w.-]{0,127}`
	refDigest       = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
)

// imageRefRe splits a full reference (with its domain) into name, tag and
// digest.
var imageRefRe = regexp.MustCompile(`^((?:` + refDomain + `/)?` + refPath + `)(?::(` + refTag + `))?(?:@(` + refDigest + `))?$`)

// digestHexLen is the length of the encoded part of each digest algorithm
// the engine knows.
var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// maxImagePath is the longest repository path of an image reference.
const maxImagePath = 255

// checkImage reports why ref is not an image reference the Docker engine
// reads: [domain[:port]/]path[:tag][@digest], the path lowercase, a name
// without a domain being one of Docker Hub's ("busybox" is
// docker.io/library/busybox). It follows reference.ParseNormalizedNamed.
func checkImage(ref string) error {
	if len(ref) == 64 && isLowerHex(ref) {
		return errors.New("an image id is not a reference; name the image")
	}
	domain, rest := splitImageDomain(ref)
	if repo, _, _ := strings.Cut(rest, ":"); strings.ToLower(repo) != repo {
		return errors.New("the repository name must be lowercase")
	}
	m := imageRefRe.FindStringSubmatch(domain + "/" + rest)
	if m == nil {
		return errors.New("want [registry/]name[:tag][@digest]")
	}
	// The domain always matches as one: the path is what follows it.
	if path := m[1][len(domain)+1:]; len(path) > maxImagePath {
		return fmt.Errorf("repository name is longer than %d characters", maxImagePath)
	}
	if m[3] != "" {
		alg, hex, _ := strings.Cut(m[3], ":")
		n, ok := digestHexLen[alg]
		switch {
		case !ok:
			return fmt.Errorf("digest algorithm %s is not one of sha256, sha384, sha512", alg)
		case len(hex) != n || !isLowerHex(hex):
			return fmt.Errorf("a %s digest is %d lowercase hex digits", alg, n)
		}
	}
	return nil
}

// splitImageDomain splits ref into its registry's domain and the rest, as
// the engine does: the first component is a domain when it holds a dot or
// a colon, is localhost or holds upper case; otherwise the registry is
// Docker Hub, where a name of one component is under library/.
func splitImageDomain(ref string) (domain, rest string) {
	first, after, ok := strings.Cut(ref, "/")
	switch {
	case !ok:
		domain, rest = "docker.io", ref
	case first == "index.docker.io":
		domain, rest = "docker.io", after
	case first == "localhost" || strings.ContainsAny(first, ".:") || strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = "docker.io", ref
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return domain, rest
}

// isLowerHex reports whether s is made of lowercase hex digits only.
func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
