using GruOperator.Domain.Rollout;
using GruOperator.ModelResolution;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Serving;

/// <summary>
/// What a pod needs to pull an oci:// model itself: GruServer's --model names the digest-pinned reference, the cache is an
/// emptyDir, and spec.model.registrySecretRef reaches GruServer the way its flags expect (a mounted config.json for a
/// dockerconfigjson Secret, GRU_REGISTRY_USERNAME/PASSWORD for a username/password Secret).
/// </summary>
internal sealed record OciModel(string Reference, IReadOnlyList<string> Args, IReadOnlyList<V1EnvVar> Env, IReadOnlyList<V1VolumeMount> Mounts, IReadOnlyList<V1Volume> Volumes)
{
    private const string CacheVolume = "model-cache";
    private const string RegistryVolume = "registry-config";

    /// <summary>The pod parts for <paramref name="source"/>; throws when the source is not pinned to a digest (resolve it first).</summary>
    public static OciModel Of(ModelSource source, ServingDefaults defaults, RegistrySecret? secret)
    {
        // ModelPinner puts the digest in the reference; a tag reaching this point is a bug, and must never reach a pod.
        if (!source.Uri.Contains("@sha256:", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{source.Uri} is not pinned to a digest: oci:// sources are resolved (ModelPinner) before a Deployment is built");
        }

        var registry = source.Location[..source.Location.IndexOf('/', StringComparison.Ordinal)];
        var args = new List<string> { ServerFlags.ModelCacheDir, ServingWorkloadBuilder.ModelCacheDirectory };
        if (defaults.PlainHttpRegistries.Contains(registry, StringComparer.OrdinalIgnoreCase)) args.AddRange([ServerFlags.RegistryPlainHttp, registry]);
        var env = new List<V1EnvVar>();
        var mounts = new List<V1VolumeMount> { new() { MountPath = ServingWorkloadBuilder.ModelCacheDirectory, Name = CacheVolume } };
        var volumes = new List<V1Volume> { new() { Name = CacheVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(defaults.ModelVolumeSizeLimit) } } };
        switch (secret?.Format)
        {
            case RegistrySecretFormat.DockerConfigJson:
                args.AddRange([ServerFlags.RegistryConfig, ServingWorkloadBuilder.RegistryConfigPath]);
                mounts.Add(new V1VolumeMount { MountPath = ServingWorkloadBuilder.RegistryConfigDirectory, Name = RegistryVolume, ReadOnlyProperty = true });
                volumes.Add(new V1Volume
                {
                    Name = RegistryVolume,
                    Secret = new V1SecretVolumeSource
                    {
                        SecretName = secret.Name,
                        Items = [new V1KeyToPath { Key = RegistrySecret.DockerConfigKey, Path = "config.json" }],
                        DefaultMode = 0x124, // 0444: GruServer runs as a non-root user
                    },
                });
                break;
            case RegistrySecretFormat.UsernamePassword:
                // Variables, not flags: a password in args would show in the pod spec and in ps.
                env.Add(FromSecret(Variable(ServerFlags.RegistryUsername), secret.Name, RegistrySecret.UsernameKey));
                env.Add(FromSecret(Variable(ServerFlags.RegistryPassword), secret.Name, RegistrySecret.PasswordKey));
                // The registry the Secret states, so GruServer too refuses to send the password to any other host.
                env.Add(FromSecret(Variable(ServerFlags.RegistryHost), secret.Name, RegistrySecret.RegistryKey));
                break;
        }
        return new OciModel(source.Uri, args, env, mounts, volumes);
    }

    /// <summary>GruServer's variable for a flag: GRU_ and the flag's name, e.g. --registry-username → GRU_REGISTRY_USERNAME.</summary>
    private static string Variable(string flag) => "GRU_" + flag.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    private static V1EnvVar FromSecret(string name, string secret, string key) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret, Key = key } },
    };
}
