using System.Globalization;
using System.Text;
using k8s.Models;

namespace GruNodeAgent.Discovery;

/// <summary>One Prometheus http_sd target group: addresses and the labels they share.</summary>
internal sealed record TargetGroup(IReadOnlyList<string> Targets, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// Prometheus HTTP service discovery (http_sd_configs) of the node's running pods, honouring the prometheus.io/scrape,
/// port, path and scheme annotations. Each target carries namespace and pod, the pod's serving.gru.dev/* labels as
/// serving_gru_dev_* (label names allow no dots or slashes; GruServer's own model/track/revision series labels are left
/// alone), and the __meta_kubernetes_* names a kubernetes_sd relabelling would use.
/// </summary>
internal static class ScrapeTargets
{
    public const string ScrapeAnnotation = "prometheus.io/scrape";
    public const string PortAnnotation = "prometheus.io/port";
    public const string PathAnnotation = "prometheus.io/path";
    public const string SchemeAnnotation = "prometheus.io/scheme";
    private const string GruLabelPrefix = "serving.gru.dev/";

    public static IReadOnlyList<TargetGroup> For(IEnumerable<V1Pod> pods)
    {
        var groups = new List<TargetGroup>();
        foreach (var pod in pods.OrderBy(p => p.Metadata.NamespaceProperty, StringComparer.Ordinal).ThenBy(p => p.Metadata.Name, StringComparer.Ordinal))
        {
            var annotations = pod.Metadata.Annotations ?? new Dictionary<string, string>();
            if (pod.Status?.Phase != "Running" || string.IsNullOrEmpty(pod.Status.PodIP) || pod.Metadata.DeletionTimestamp is not null) continue;
            if (!annotations.TryGetValue(ScrapeAnnotation, out var scrape) || scrape != "true") continue;
            var ports = annotations.TryGetValue(PortAnnotation, out var port) && int.TryParse(port, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p)
                ? [p]
                : (pod.Spec.Containers ?? []).SelectMany(c => c.Ports ?? []).Where(cp => cp.Protocol is null or "TCP").Select(cp => cp.ContainerPort).Distinct().ToList();
            if (ports.Count == 0) continue;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["namespace"] = pod.Metadata.NamespaceProperty,
                ["pod"] = pod.Metadata.Name,
                ["__metrics_path__"] = annotations.TryGetValue(PathAnnotation, out var path) && path.Length > 0 ? path : "/metrics",
                ["__scheme__"] = annotations.TryGetValue(SchemeAnnotation, out var scheme) && scheme is "https" ? "https" : "http",
                ["__meta_kubernetes_namespace"] = pod.Metadata.NamespaceProperty,
                ["__meta_kubernetes_pod_name"] = pod.Metadata.Name,
                ["__meta_kubernetes_pod_ip"] = pod.Status.PodIP,
                ["__meta_kubernetes_pod_node_name"] = pod.Spec.NodeName ?? "",
                ["__meta_kubernetes_pod_ready"] = pod.Status.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true ? "true" : "false",
            };
            foreach (var (key, value) in pod.Metadata.Labels ?? new Dictionary<string, string>())
            {
                labels["__meta_kubernetes_pod_label_" + Sanitize(key)] = value;
                if (key.StartsWith(GruLabelPrefix, StringComparison.Ordinal)) labels[Sanitize(key)] = value;
            }

            groups.Add(new TargetGroup(ports.Select(n => $"{pod.Status.PodIP}:{n}").ToList(), labels));
        }

        return groups;
    }

    /// <summary>As Prometheus' kubernetes_sd: every character outside [a-zA-Z0-9_] becomes '_'.</summary>
    public static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        return sb.ToString();
    }
}
