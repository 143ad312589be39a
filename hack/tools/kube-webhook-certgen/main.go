// Command kube-webhook-certgen: `create` and `patch` as oamdev/kube-webhook-certgen v2.4.1 runs them
// in KubeVela's hook Jobs (go.mod says why this is a stand-in). `create` is the original's own code
// (github.com/jet/kube-webhook-certgen v1.5.2 cmd/create.go over its pkg/certs and pkg/k8s); `patch`
// reads the CA with the original's code and sets caBundle (and failurePolicy) in the validating and
// mutating webhook configurations through admissionregistration.k8s.io/v1, as the fork does. The
// fork's `--crds` (the chart's admissionWebhooks.appConversion, off by default) is refused, not faked.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/jet/kube-webhook-certgen/pkg/certs"
	"github.com/jet/kube-webhook-certgen/pkg/k8s"
	log "github.com/sirupsen/logrus"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type options struct {
	logLevel, logFormat, kubeconfig string
	host, secretName, namespace     string
	certName, keyName, webhookName  string
	patchFailurePolicy, crds        string
	patchValidating, patchMutating  bool
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "create" && os.Args[1] != "patch") {
		fmt.Fprintln(os.Stderr, "usage: kube-webhook-certgen create|patch [flags]")
		os.Exit(1)
	}
	command := os.Args[1]
	opts := options{}
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	flags.StringVar(&opts.logLevel, "log-level", "info", "Log level: panic|fatal|error|warn|info|debug|trace")
	flags.StringVar(&opts.logFormat, "log-format", "json", "Log format: text|json")
	flags.StringVar(&opts.kubeconfig, "kubeconfig", "", "Path to kubeconfig file (default: in-cluster config)")
	flags.StringVar(&opts.secretName, "secret-name", "", "Name of the secret holding the certificates")
	flags.StringVar(&opts.namespace, "namespace", "", "Namespace of that secret")
	if command == "create" {
		flags.StringVar(&opts.host, "host", "", "Comma-separated hostnames and IPs to generate a certificate for")
		flags.StringVar(&opts.certName, "cert-name", "cert", "Name of cert file in the secret")
		flags.StringVar(&opts.keyName, "key-name", "key", "Name of key file in the secret")
	} else {
		flags.StringVar(&opts.webhookName, "webhook-name", "", "Name of the webhook configurations to update")
		flags.BoolVar(&opts.patchValidating, "patch-validating", true, "If true, patch validatingwebhookconfiguration")
		flags.BoolVar(&opts.patchMutating, "patch-mutating", true, "If true, patch mutatingwebhookconfiguration")
		flags.StringVar(&opts.patchFailurePolicy, "patch-failure-policy", "", "If set, Ignore or Fail")
		flags.StringVar(&opts.crds, "crds", "", "not supported by this stand-in")
	}
	_ = flags.Parse(os.Args[2:])
	configureLogging(opts)
	required := map[string]string{"secret-name": opts.secretName, "namespace": opts.namespace}
	if command == "create" {
		required["host"] = opts.host
	} else {
		required["webhook-name"] = opts.webhookName
	}
	for name, value := range required {
		if value == "" {
			log.Fatalf("required flag --%s not set", name)
		}
	}
	if command == "create" {
		create(opts)
	} else {
		patch(opts)
	}
}

func configureLogging(opts options) {
	level, err := log.ParseLevel(opts.logLevel)
	if err != nil {
		log.WithField("err", err).Fatal("Invalid error level")
	}
	log.SetOutput(os.Stdout)
	log.SetLevel(level)
	switch opts.logFormat {
	case "json":
		log.SetFormatter(&log.JSONFormatter{})
	case "text":
		log.SetFormatter(&log.TextFormatter{})
	default:
		log.Fatalf("invalid log format '%s'", opts.logFormat)
	}
}

// create is github.com/jet/kube-webhook-certgen v1.5.2 cmd/create.go's createCommand.
func create(opts options) {
	k := k8s.New(opts.kubeconfig)
	ca := k.GetCaFromSecret(opts.secretName, opts.namespace)
	if ca == nil {
		log.Info("creating new secret")
		newCa, newCert, newKey := certs.GenerateCerts(opts.host)
		k.SaveCertsToSecret(opts.secretName, opts.namespace, opts.certName, opts.keyName, newCa, newCert, newKey)
	} else {
		log.Info("secret already exists")
	}
}

func patch(opts options) {
	if opts.crds != "" {
		log.Fatal("--crds (the chart's admissionWebhooks.appConversion) is not supported by this stand-in")
	}
	if !opts.patchMutating && !opts.patchValidating {
		log.Fatal("patch-validating=false, patch-mutating=false. You must patch at least one kind of webhook, otherwise this command is a no-op")
	}
	var policy *admissionv1.FailurePolicyType
	switch opts.patchFailurePolicy {
	case "":
	case "Ignore", "Fail":
		value := admissionv1.FailurePolicyType(opts.patchFailurePolicy)
		policy = &value
	default:
		log.Fatalf("patch-failure-policy %s is not valid", opts.patchFailurePolicy)
	}
	ca := k8s.New(opts.kubeconfig).GetCaFromSecret(opts.secretName, opts.namespace)
	if ca == nil {
		log.Fatalf("no secret with '%s' in '%s'", opts.secretName, opts.namespace)
	}
	config, err := clientcmd.BuildConfigFromFlags("", opts.kubeconfig)
	if err != nil {
		log.WithError(err).Fatal("error building kubernetes config")
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		log.WithError(err).Fatal("error creating kubernetes client")
	}
	log.Infof("patching webhook configurations '%s' mutating=%t, validating=%t, failurePolicy=%s",
		opts.webhookName, opts.patchMutating, opts.patchValidating, opts.patchFailurePolicy)
	hooks := clientset.AdmissionregistrationV1()
	ctx := context.TODO()
	if opts.patchValidating {
		hook, err := hooks.ValidatingWebhookConfigurations().Get(ctx, opts.webhookName, metav1.GetOptions{})
		if err != nil {
			log.WithField("err", err).Fatal("failed getting validating webhook")
		}
		for i := range hook.Webhooks {
			hook.Webhooks[i].ClientConfig.CABundle = ca
			if policy != nil {
				hook.Webhooks[i].FailurePolicy = policy
			}
		}
		if _, err = hooks.ValidatingWebhookConfigurations().Update(ctx, hook, metav1.UpdateOptions{}); err != nil {
			log.WithField("err", err).Fatal("failed patching validating webhook")
		}
		log.Debug("patched validating hook")
	}
	if opts.patchMutating {
		hook, err := hooks.MutatingWebhookConfigurations().Get(ctx, opts.webhookName, metav1.GetOptions{})
		if err != nil {
			log.WithField("err", err).Fatal("failed getting mutating webhook")
		}
		for i := range hook.Webhooks {
			hook.Webhooks[i].ClientConfig.CABundle = ca
			if policy != nil {
				hook.Webhooks[i].FailurePolicy = policy
			}
		}
		if _, err = hooks.MutatingWebhookConfigurations().Update(ctx, hook, metav1.UpdateOptions{}); err != nil {
			log.WithField("err", err).Fatal("failed patching mutating webhook")
		}
		log.Debug("patched mutating hook")
	}
	log.Info("Patched hook(s)")
}
