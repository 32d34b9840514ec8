using System.Net;
using System.Text;
using GruRegistry.Distribution;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruOperator.ModelResolution;

/// <summary>How a registry Secret holds its credentials, which decides how serving pods receive them.</summary>
internal enum RegistrySecretFormat
{
    /// <summary>type kubernetes.io/dockerconfigjson (key .dockerconfigjson): mounted as a file for GruServer's --registry-config.</summary>
    DockerConfigJson,

    /// <summary>Keys username and password: passed as GRU_REGISTRY_USERNAME / GRU_REGISTRY_PASSWORD from the Secret.</summary>
    UsernamePassword,
}

/// <summary>spec.model.registrySecretRef, read: its name and form (the credentials stay with the operator's own client).</summary>
internal sealed record RegistrySecret(string Name, RegistrySecretFormat Format)
{
    public const string DockerConfigKey = ".dockerconfigjson";
    public const string UsernameKey = "username";
    public const string PasswordKey = "password";

    /// <summary>The key of a username/password Secret naming the one registry (host[:port]) its password is for.</summary>
    public const string RegistryKey = "registry";

    /// <summary>The label an admin or namespace owner puts on a Secret to let GruModels name it in registrySecretRef.</summary>
    public const string OptInLabel = "serving.gru.dev/registry-secret";
}

/// <summary>The credentials of one model's registry Secret, for the operator's own registry calls.</summary>
internal sealed record RegistryAccess(RegistrySecret? Secret, RegistryCredentials Credentials)
{
    public static RegistryAccess Anonymous { get; } = new(null, RegistryCredentials.Anonymous);
}

/// <summary>
/// Reads spec.model.registrySecretRef with a direct GET when a model is reconciled. Secrets are not watched: caching every
/// Secret of the cluster would cost memory and RBAC (list/watch on secrets) for a few reads per resolution.
/// </summary>
internal sealed class RegistrySecretReader(IKubernetes client, bool requireOptIn = true)
{
    /// <summary>The Secret's credentials; throws <see cref="ModelResolutionException"/> naming the field and the fix.</summary>
    public async Task<RegistryAccess> ReadAsync(string @namespace, string? name, string registry, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name)) return RegistryAccess.Anonymous;
        V1Secret secret;
        try
        {
            secret = await client.CoreV1.ReadNamespacedSecretAsync(name, @namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
                $"spec.model.registrySecretRef: Secret {@namespace}/{name} does not exist: create it (kubectl create secret docker-registry {name} --docker-server={registry} ...) or remove registrySecretRef");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
                $"spec.model.registrySecretRef: the operator may not read Secret {@namespace}/{name} (403): grant it get on secrets (config/rbac)");
        }

        // Creating a GruModel must not be a way to use any Secret of the namespace: only those labelled for it.
        if (requireOptIn && (secret.Metadata?.Labels is not { } labels || !labels.TryGetValue(RegistrySecret.OptInLabel, out var optIn) || optIn != "true"))
        {
            throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
                $"spec.model.registrySecretRef: Secret {@namespace}/{name} is not labelled {RegistrySecret.OptInLabel}=true, so GruModels may not use it: " +
                $"label it (kubectl label secret {name} {RegistrySecret.OptInLabel}=true) if it is meant for pulling models");
        }

        var data = secret.Data ?? new Dictionary<string, byte[]>();
        var origin = $"Secret {@namespace}/{name}";
        if (data.TryGetValue(RegistrySecret.DockerConfigKey, out var config))
        {
            try
            {
                var credentials = RegistryCredentials.FromDockerConfigJson(Encoding.UTF8.GetString(config), origin);
                return new RegistryAccess(new RegistrySecret(name, RegistrySecretFormat.DockerConfigJson), credentials);
            }
            catch (RegistryException e)
            {
                throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false, $"spec.model.registrySecretRef: {e.Message}");
            }
        }

        if (data.TryGetValue(RegistrySecret.UsernameKey, out var user) && data.TryGetValue(RegistrySecret.PasswordKey, out var password))
        {
            // A password is for one registry, and the Secret says which: the model source alone (set by whoever writes the
            // GruModel) must not decide where it is sent. Docker's credential stores are keyed by host the same way.
            if (!data.TryGetValue(RegistrySecret.RegistryKey, out var stated) || Encoding.UTF8.GetString(stated).Trim() is not { Length: > 0 } statedRegistry)
            {
                throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
                    $"spec.model.registrySecretRef: {origin} has no key {RegistrySecret.RegistryKey} naming the registry its password is for: " +
                    $"add it (e.g. {RegistrySecret.RegistryKey}={registry}) or use a kubernetes.io/dockerconfigjson Secret");
            }

            if (!string.Equals(statedRegistry, registry, StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
                    $"spec.model.registrySecretRef: {origin} holds credentials for registry {statedRegistry}, not {registry} named by spec.model.source; " +
                    "refusing to send them elsewhere: name a Secret for that registry");
            }

            return new RegistryAccess(new RegistrySecret(name, RegistrySecretFormat.UsernamePassword),
                RegistryCredentials.For(statedRegistry, Encoding.UTF8.GetString(user), Encoding.UTF8.GetString(password)));
        }

        throw new ModelResolutionException(ModelResolutionReasons.RegistrySecretInvalid, transient: false,
            $"spec.model.registrySecretRef: {origin} has neither key {RegistrySecret.DockerConfigKey} (type kubernetes.io/dockerconfigjson) " +
            $"nor keys {RegistrySecret.UsernameKey} and {RegistrySecret.PasswordKey}: recreate it in one of those forms");
    }
}
