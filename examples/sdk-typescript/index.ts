// A TypeScript platform program composing OcmHub through the SDK `pulumi package add` generates from
// ocm-hub's package/. `make e2e` compiles it with tsc against the SDK generated from the package
// (tests/e2e/test_sdks.py), so a schema change that breaks what it uses fails there.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as ocm from "@pulumi/ocm-hub";

const platform = new pulumi.Config("platform");
const hubKubeconfig = platform.requireSecret("hubKubeconfig");
const hubCluster = new k8s.Provider("hub-cluster", { kubeconfig: hubKubeconfig });

const hub = new ocm.OcmHub(
    "platform-ocm",
    {
        operator: { replicas: 1 },
        addons: { clusterProxy: { enabled: true }, managedServiceAccount: { enabled: true } },
        registration: { clusters: [{ name: "managed-1", labels: { platform: "edge" } }], waitForAddons: false },
        readinessTimeout: "5m",
        allowTeardown: false,
        hubKubeconfig, // the same kubeconfig as the provider's: the hub's own checks and registrations use it
    },
    { providers: { kubernetes: hubCluster } },
);

export const hubReady: pulumi.Output<boolean> = hub.hubReady;
export const notReadyReasons: pulumi.Output<string[]> = hub.notReadyReasons;
export const ocmVersion: pulumi.Output<string> = hub.ocmVersion;
export const fleetSummary = hub.fleetSummary;
export const clusters = hub.clusters;
