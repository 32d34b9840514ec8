using GruNodeAgent.Discovery;
using k8s.Models;

namespace GruNodeAgent.Tests.Discovery;

public sealed class ScrapeTargetsTests
{
    [Fact]
    public void Lists_running_annotated_pods_with_their_serving_labels()
    {
        var groups = ScrapeTargets.For(
        [
            Pod("a", "Running", "127.0.0.5", scrape: "true", port: "9464"),
            Pod("b", "Running", "127.0.0.6", scrape: "false", port: "9464"),
            Pod("c", "Pending", "", scrape: "true", port: "9464"),
            Pod("d", "Running", "127.0.0.7", scrape: null, port: null),
        ]);
        var group = Assert.Single(groups);
        Assert.Equal(["127.0.0.5:9464"], group.Targets);
        Assert.Equal("ns", group.Labels["namespace"]);
        Assert.Equal("a", group.Labels["pod"]);
        Assert.Equal("m1", group.Labels["serving_gru_dev_model"]);
        Assert.Equal("canary", group.Labels["serving_gru_dev_track"]);
        Assert.Equal("/stats", group.Labels["__metrics_path__"]);
        Assert.False(group.Labels.ContainsKey("model"));
    }

    [Fact]
    public void Without_a_port_annotation_every_declared_port_is_a_target()
    {
        var group = Assert.Single(ScrapeTargets.For([Pod("a", "Running", "127.0.0.5", scrape: "true", port: null)]));
        Assert.Equal(["127.0.0.5:8080", "127.0.0.5:9464"], group.Targets);
        Assert.Equal("/metrics", group.Labels["__metrics_path__"]);
    }

    private static V1Pod Pod(string name, string phase, string ip, string? scrape, string? port)
    {
        var annotations = new Dictionary<string, string>();
        if (scrape is not null) annotations["prometheus.io/scrape"] = scrape;
        if (port is not null)
        {
            annotations["prometheus.io/port"] = port;
            annotations["prometheus.io/path"] = "/stats";
        }

        return new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = "ns",
                Labels = new Dictionary<string, string> { ["serving.gru.dev/model"] = "m1", ["serving.gru.dev/track"] = "canary", ["app"] = "x" },
                Annotations = annotations,
            },
            Spec = new V1PodSpec
            {
                NodeName = "n1",
                Containers = [new V1Container { Name = "s", Ports = [new V1ContainerPort { ContainerPort = 8080 }, new V1ContainerPort { ContainerPort = 9464 }] }],
            },
            Status = new V1PodStatus { Phase = phase, PodIP = ip },
        };
    }
}
