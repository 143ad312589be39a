// Command pulumi-resource-kubernetes is upstream's provider main
// (github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes/main.go) in a
// wrapper module: upstream's module replaces sdk/v4 with a local path, so it cannot be built with
// `go install`. hack/build_tools.py writes the two embedded files beside this one before it builds,
// from the module's schema.json and terraform-mapping.json the way upstream's generate.go does.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
