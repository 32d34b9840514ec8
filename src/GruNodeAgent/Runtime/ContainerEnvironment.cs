using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;

namespace GruNodeAgent.Runtime;

/// <summary>
/// Builds a container's environment as the kubelet does: envFrom, then env in order (each value may use $(NAME) of the
/// ones before), valueFrom fieldRef (the downward API), resourceFieldRef, configMapKeyRef and secretKeyRef. Only a few
/// variables of the agent's own environment pass through (PATH, HOME, DOTNET_*...), so local programs still start.
/// </summary>
internal static class ContainerEnvironment
{
    private static readonly string[] PassThrough = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

    public static async Task<Dictionary<string, string>> BuildAsync(
        IKubernetes client, V1Pod pod, V1Container container, string podIp, CancellationToken cancellationToken)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in PassThrough)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value) env[name] = value;
        }

        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (key.StartsWith("DOTNET_", StringComparison.Ordinal)) env[key] = (string)e.Value!;
        }

        env["HOSTNAME"] = pod.Metadata.Name;
        var ns = pod.Metadata.NamespaceProperty;
        foreach (var source in container.EnvFrom ?? [])
        {
            IReadOnlyDictionary<string, byte[]>? data = null;
            if (source.ConfigMapRef is { } cm) data = await PodSandbox.ReadConfigMapAsync(client, ns, cm.Name, cm.Optional == true, cancellationToken).ConfigureAwait(false);
            if (source.SecretRef is { } s) data = await PodSandbox.ReadSecretAsync(client, ns, s.Name, s.Optional == true, cancellationToken).ConfigureAwait(false);
            foreach (var (k, v) in data ?? new Dictionary<string, byte[]>()) env[(source.Prefix ?? "") + k] = Encoding.UTF8.GetString(v);
        }

        foreach (var variable in container.Env ?? [])
        {
            if (variable.ValueFrom is not { } from)
            {
                env[variable.Name] = EnvExpansion.Expand(variable.Value ?? "", env);
                continue;
            }

            string? value = null;
            if (from.FieldRef is { } field) value = FieldValue(pod, field.FieldPath, podIp);
            else if (from.ResourceFieldRef is { } resource) value = ResourceValue(pod, container, resource);
            else if (from.ConfigMapKeyRef is { } cmKey)
            {
                var data = await PodSandbox.ReadConfigMapAsync(client, ns, cmKey.Name, cmKey.Optional == true, cancellationToken).ConfigureAwait(false);
                value = Key(data, cmKey.Key, cmKey.Optional == true, $"ConfigMap {ns}/{cmKey.Name}");
            }
            else if (from.SecretKeyRef is { } secretKey)
            {
                var data = await PodSandbox.ReadSecretAsync(client, ns, secretKey.Name, secretKey.Optional == true, cancellationToken).ConfigureAwait(false);
                value = Key(data, secretKey.Key, secretKey.Optional == true, $"Secret {ns}/{secretKey.Name}");
            }

            if (value is not null) env[variable.Name] = value;
        }

        return env;
    }

    /// <summary>The downward API's fieldRef paths.</summary>
    public static string FieldValue(V1Pod pod, string path, string podIp)
    {
        var meta = pod.Metadata;
        if (TryKey(path, "metadata.labels", out var label)) return meta.Labels?.TryGetValue(label, out var l) == true ? l : "";
        if (TryKey(path, "metadata.annotations", out var annotation)) return meta.Annotations?.TryGetValue(annotation, out var a) == true ? a : "";
        return path switch
        {
            "metadata.name" => meta.Name,
            "metadata.namespace" => meta.NamespaceProperty,
            "metadata.uid" => meta.Uid,
            "metadata.labels" => string.Join("\n", (meta.Labels ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
            "metadata.annotations" => string.Join("\n", (meta.Annotations ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
            "spec.nodeName" => pod.Spec.NodeName ?? "",
            "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "",
            "status.hostIP" or "status.hostIPs" => "127.0.0.1",
            "status.podIP" or "status.podIPs" => podIp,
            _ => throw new UnsupportedPodException($"env fieldRef.fieldPath \"{path}\" is not a downward API field"),
        };
    }

    private static string ResourceValue(V1Pod pod, V1Container container, V1ResourceFieldSelector selector)
    {
        var target = string.IsNullOrEmpty(selector.ContainerName)
            ? container
            : (pod.Spec.Containers ?? []).FirstOrDefault(c => c.Name == selector.ContainerName) ?? container;
        var parts = selector.Resource.Split('.', 2);
        if (parts.Length != 2) throw new UnsupportedPodException($"env resourceFieldRef.resource \"{selector.Resource}\" is not limits.X or requests.X");
        var quantities = parts[0] == "limits" ? target.Resources?.Limits : target.Resources?.Requests;
        decimal amount;
        if (quantities is not null && quantities.TryGetValue(parts[1], out var q)) amount = q.ToDecimal();
        else if (parts[1] == "cpu") amount = parts[0] == "limits" ? Environment.ProcessorCount : 0;
        else if (parts[1] == "memory") amount = parts[0] == "limits" ? NodeCapacity.MachineMemoryBytes() : 0;
        else amount = 0;
        var divisor = selector.Divisor?.ToDecimal() is { } d && d > 0 ? d : 1;
        // The kubelet rounds up (a 250m CPU limit with divisor 1 reads as 1).
        return Math.Ceiling(amount / divisor).ToString(CultureInfo.InvariantCulture);
    }

    private static string? Key(IReadOnlyDictionary<string, byte[]>? data, string key, bool optional, string source)
    {
        if (data is not null && data.TryGetValue(key, out var bytes)) return Encoding.UTF8.GetString(bytes);
        return optional ? null : throw new ContainerConfigException($"couldn't find key {key} in {source}");
    }

    private static bool TryKey(string path, string prefix, out string key)
    {
        key = "";
        if (!path.StartsWith(prefix + "['", StringComparison.Ordinal) || !path.EndsWith("']", StringComparison.Ordinal)) return false;
        key = path[(prefix.Length + 2)..^2];
        return true;
    }
}
