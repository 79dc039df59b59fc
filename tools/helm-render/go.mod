// helm-render builds offline against Debian's Go packages (GOPATH mode, see build.sh): this file
// marks the directory as module code so that the canonical import github.com/Masterminds/sprig/v3
// resolves to Debian's /usr/share/gocode/src/github.com/Masterminds/sprig (Go's minimal module
// compatibility). The versions are Debian 12's; with network access `go build` in module mode
// works from here too.
module sluice.dev/tools/helm-render

go 1.19

require (
	github.com/Masterminds/semver/v3 v3.2.0
	github.com/Masterminds/sprig/v3 v3.2.3
	gopkg.in/yaml.v2 v2.4.0
)
