using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruNodeAgent.Runtime;

/// <summary>A pod's spec needs something the agent cannot provide yet (a missing ConfigMap or key): the kubelet's CreateContainerConfigError.</summary>
internal sealed class ContainerConfigException(string message) : Exception(message);

/// <summary>A pod asks for something the agent does not do (e.g. an exec probe, a persistent volume): the pod fails saying so.</summary>
internal sealed class UnsupportedPodException(string message) : Exception(message);

/// <summary>
/// A pod's directory on the host: volumes (emptyDir as a directory, configMap and secret as files, hostPath as itself)
/// and container logs (logs/&lt;container&gt;/&lt;restart&gt;.log, as the kubelet's /var/log/pods layout). Paths inside the
/// container are mapped to the host by mount: an argument, env value or working directory under a mountPath is rewritten
/// to the volume's host directory, since local processes share the host's filesystem.
/// </summary>
internal sealed class PodSandbox
{
    private readonly Dictionary<string, string> _volumes = new(StringComparer.Ordinal);

    public PodSandbox(string stateDirectory, V1Pod pod)
    {
        Root = Path.Combine(stateDirectory, "pods", $"{pod.Metadata.NamespaceProperty}_{pod.Metadata.Name}_{pod.Metadata.Uid}");
        LogDirectory = Path.Combine(Root, "logs");
    }

    /// <summary>The pod's directory.</summary>
    public string Root { get; }

    /// <summary>Where its containers' logs go.</summary>
    public string LogDirectory { get; }

    public string LogPath(string container, int restart) => Path.Combine(LogDirectory, container, $"{restart}.log");

    /// <summary>Creates the directories and writes configMap and secret volumes.</summary>
    public async Task PrepareAsync(IKubernetes client, V1Pod pod, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(LogDirectory);
        var ns = pod.Metadata.NamespaceProperty;
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            var dir = Path.Combine(Root, "volumes", volume.Name);
            if (volume.EmptyDir is not null)
            {
                Directory.CreateDirectory(dir);
            }
            else if (volume.HostPath is not null)
            {
                dir = volume.HostPath.Path;
            }
            else if (volume.ConfigMap is { } cm)
            {
                var data = await ReadConfigMapAsync(client, ns, cm.Name, cm.Optional == true, cancellationToken).ConfigureAwait(false);
                WriteFiles(dir, data, cm.Items, cm.DefaultMode, $"ConfigMap \"{cm.Name}\"", cm.Optional == true);
            }
            else if (volume.Secret is { } secret)
            {
                var data = await ReadSecretAsync(client, ns, secret.SecretName, secret.Optional == true, cancellationToken).ConfigureAwait(false);
                WriteFiles(dir, data, secret.Items, secret.DefaultMode, $"Secret \"{secret.SecretName}\"", secret.Optional == true);
            }
            else if (volume.DownwardAPI is { } downward)
            {
                WriteFiles(dir, DownwardFiles(pod, downward.Items), null, downward.DefaultMode, "downwardAPI", optional: false);
            }
            else if (volume.Projected is { } projected)
            {
                await WriteProjectedAsync(client, pod, dir, projected, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                throw new UnsupportedPodException(
                    $"volume \"{volume.Name}\" is of a type the node agent does not provide (it provides emptyDir, configMap, secret, downwardAPI, projected and hostPath)");
            }

            _volumes[volume.Name] = dir;
        }
    }

    /// <summary>
    /// A projected volume (e.g. the kube-api-access-* volume ServiceAccount admission adds): ConfigMaps, Secrets,
    /// downward API items, and a ServiceAccount token from the TokenRequest API, bound to the pod (not rotated here).
    /// </summary>
    private static async Task WriteProjectedAsync(IKubernetes client, V1Pod pod, string dir, V1ProjectedVolumeSource projected, CancellationToken cancellationToken)
    {
        var ns = pod.Metadata.NamespaceProperty;
        Directory.CreateDirectory(dir);
        foreach (var source in projected.Sources ?? [])
        {
            if (source.ConfigMap is { } cm)
            {
                var data = await ReadConfigMapAsync(client, ns, cm.Name, cm.Optional == true, cancellationToken).ConfigureAwait(false);
                WriteFiles(dir, data, cm.Items, projected.DefaultMode, $"ConfigMap \"{cm.Name}\"", cm.Optional == true);
            }
            else if (source.Secret is { } secret)
            {
                var data = await ReadSecretAsync(client, ns, secret.Name, secret.Optional == true, cancellationToken).ConfigureAwait(false);
                WriteFiles(dir, data, secret.Items, projected.DefaultMode, $"Secret \"{secret.Name}\"", secret.Optional == true);
            }
            else if (source.DownwardAPI is { } downward)
            {
                WriteFiles(dir, DownwardFiles(pod, downward.Items), null, projected.DefaultMode, "downwardAPI", optional: false);
            }
            else if (source.ServiceAccountToken is { } token)
            {
                var account = string.IsNullOrEmpty(pod.Spec.ServiceAccountName) ? "default" : pod.Spec.ServiceAccountName;
                try
                {
                    var issued = await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
                    {
                        Spec = new V1TokenRequestSpec
                        {
                            Audiences = string.IsNullOrEmpty(token.Audience) ? [] : [token.Audience],
                            ExpirationSeconds = token.ExpirationSeconds ?? 3600,
                            BoundObjectRef = new V1BoundObjectReference { ApiVersion = "v1", Kind = "Pod", Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
                        },
                    }, account, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
                    WriteFiles(dir, new Dictionary<string, byte[]> { [token.Path] = Encoding.UTF8.GetBytes(issued.Status.Token) }, null, projected.DefaultMode, "serviceAccountToken", optional: false);
                }
                catch (HttpOperationException e)
                {
                    throw new ContainerConfigException($"a token for ServiceAccount {ns}/{account} could not be requested: {(int)e.Response.StatusCode} {e.Response.Content}");
                }
            }
        }
    }

    private static Dictionary<string, byte[]> DownwardFiles(V1Pod pod, IList<V1DownwardAPIVolumeFile>? items)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var item in items ?? [])
        {
            if (item.FieldRef is null) throw new UnsupportedPodException($"downwardAPI item \"{item.Path}\": only fieldRef items are provided");
            files[item.Path] = Encoding.UTF8.GetBytes(ContainerEnvironment.FieldValue(pod, item.FieldRef.FieldPath, pod.Status?.PodIP ?? ""));
        }

        return files;
    }

    /// <summary>Host paths for a container's mounts, longest mountPath first so nested mounts win.</summary>
    public IReadOnlyList<(string MountPath, string HostPath)> Mounts(V1Container container)
    {
        var mounts = new List<(string, string)>();
        foreach (var mount in container.VolumeMounts ?? [])
        {
            if (!_volumes.TryGetValue(mount.Name, out var host))
            {
                throw new ContainerConfigException($"container \"{container.Name}\" mounts volume \"{mount.Name}\", which the pod does not declare");
            }

            if (!string.IsNullOrEmpty(mount.SubPath))
            {
                host = Path.Combine(host, mount.SubPath);
                Directory.CreateDirectory(host);
            }

            mounts.Add((mount.MountPath.TrimEnd('/'), host));
        }

        return mounts.OrderByDescending(m => m.Item1.Length).ToList();
    }

    /// <summary>Rewrites a container path (alone, or after "--flag=") to the host path of the mount it lies under.</summary>
    public static string MapPath(string value, IReadOnlyList<(string MountPath, string HostPath)> mounts)
    {
        var eq = value.StartsWith('-') ? value.IndexOf('=', StringComparison.Ordinal) : -1;
        var prefix = eq >= 0 ? value[..(eq + 1)] : "";
        var path = eq >= 0 ? value[(eq + 1)..] : value;
        foreach (var (mountPath, hostPath) in mounts)
        {
            if (mountPath.Length == 0) continue;
            if (path == mountPath) return prefix + hostPath;
            if (path.StartsWith(mountPath + "/", StringComparison.Ordinal)) return prefix + hostPath + path[mountPath.Length..];
        }

        return value;
    }

    /// <summary>Removes the pod's directory (logs included) once the pod is gone.</summary>
    public void Delete()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // A file still open only leaks a directory under the state directory.
        }
    }

    internal static async Task<IReadOnlyDictionary<string, byte[]>?> ReadConfigMapAsync(IKubernetes client, string ns, string name, bool optional, CancellationToken cancellationToken)
    {
        try
        {
            var cm = await client.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
            var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var (k, v) in cm.Data ?? new Dictionary<string, string>()) data[k] = Encoding.UTF8.GetBytes(v);
            foreach (var (k, v) in cm.BinaryData ?? new Dictionary<string, byte[]>()) data[k] = v;
            return data;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return optional ? null : throw new ContainerConfigException($"configmap \"{name}\" not found");
        }
    }

    internal static async Task<IReadOnlyDictionary<string, byte[]>?> ReadSecretAsync(IKubernetes client, string ns, string name, bool optional, CancellationToken cancellationToken)
    {
        try
        {
            var secret = await client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>(), StringComparer.Ordinal);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return optional ? null : throw new ContainerConfigException($"secret \"{name}\" not found");
        }
    }

    private static void WriteFiles(string dir, IReadOnlyDictionary<string, byte[]>? data, IList<V1KeyToPath>? items, int? defaultMode, string source, bool optional)
    {
        Directory.CreateDirectory(dir);
        if (data is null) return;
        var files = items is { Count: > 0 }
            ? items.Select(i => (i.Key, i.Path, i.Mode ?? defaultMode))
            : data.Keys.Select(k => (Key: k, Path: k, Mode: defaultMode));
        foreach (var (key, relative, mode) in files)
        {
            if (!data.TryGetValue(key, out var bytes))
            {
                if (optional) continue;
                throw new ContainerConfigException($"couldn't find key {key} in {source}");
            }

            if (Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
            {
                throw new ContainerConfigException($"{source}: item path \"{relative}\" must be relative and must not contain '..'");
            }

            var path = Path.Combine(dir, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)(mode ?? 420));
        }
    }
}
