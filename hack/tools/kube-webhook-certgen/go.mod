// A stand-in for oamdev/kube-webhook-certgen:v2.4.1, the image KubeVela v1.9.13's chart runs in its
// hook Jobs (charts/vela-core templates/admission-webhooks/job-patch/ and cluster-gateway/job-patch.yaml).
// Its module (github.com/oam-dev/kube-webhook-certgen, a fork that keeps the module path
// github.com/jet/kube-webhook-certgen) is refused by the Go module proxy (403 for its version list, for
// v2.4.1 and v2.4.1+incompatible; measured). The original,
// github.com/jet/kube-webhook-certgen v1.5.2, is served, and its `create` is what the fork runs; its
// `patch` calls admissionregistration.k8s.io/v1beta1, which Kubernetes 1.22 removed. So main.go runs
// the original's own code for `create` and for reading the CA, and does `patch` against
// admissionregistration.k8s.io/v1 as the fork does (cmd/patch.go, pkg/k8s/k8s.go of v2.4.1), with the
// fork's flags. client-go at vela-core's version (hack/tools/kubevela).
module ocm-hub.local/hack/tools/kube-webhook-certgen

go 1.24.0

require (
	github.com/jet/kube-webhook-certgen v1.5.2
	github.com/sirupsen/logrus v1.9.3
	k8s.io/api v0.26.3
	k8s.io/apimachinery v0.26.3
	k8s.io/client-go v0.26.3
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/emicklei/go-restful/v3 v3.9.0 // indirect
	github.com/go-logr/logr v1.2.3 // indirect
	github.com/go-openapi/jsonpointer v0.19.5 // indirect
	github.com/go-openapi/jsonreference v0.20.0 // indirect
	github.com/go-openapi/swag v0.19.14 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.2 // indirect
	github.com/google/gnostic v0.5.7-v3refs // indirect
	github.com/google/go-cmp v0.5.9 // indirect
	github.com/google/gofuzz v1.1.0 // indirect
	github.com/imdario/mergo v0.3.7 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/mailru/easyjson v0.7.6 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/spf13/pflag v1.0.5 // indirect
	golang.org/x/net v0.7.0 // indirect
	golang.org/x/oauth2 v0.0.0-20220223155221-ee480838109b // indirect
	golang.org/x/sys v0.5.0 // indirect
	golang.org/x/term v0.5.0 // indirect
	golang.org/x/text v0.7.0 // indirect
	golang.org/x/time v0.0.0-20220210224613-90d013bbcef8 // indirect
	google.golang.org/appengine v1.6.7 // indirect
	google.golang.org/protobuf v1.28.1 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	k8s.io/klog/v2 v2.80.1 // indirect
	k8s.io/kube-openapi v0.0.0-20221012153701-172d655c2280 // indirect
	k8s.io/utils v0.0.0-20221107191617-1a15be271d1d // indirect
	sigs.k8s.io/json v0.0.0-20220713155537-f223a00ba0e2 // indirect
	sigs.k8s.io/structured-merge-diff/v4 v4.2.3 // indirect
	sigs.k8s.io/yaml v1.3.0 // indirect
)
