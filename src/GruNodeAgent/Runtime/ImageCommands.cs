namespace GruNodeAgent.Runtime;

/// <summary>The image a container names has no local command: the pod fails with this as its reason.</summary>
internal sealed class UnmappableImageException(string message) : Exception(message);

/// <summary>
/// Maps a container's image, command and args to a host argv through <see cref="ImageMapping"/>s, with docker's rules:
/// the container's command replaces the image's entrypoint, its args follow (Kubernetes' $(VAR) expansion included).
/// </summary>
internal sealed class ImageCommands(IReadOnlyList<ImageMapping> mappings)
{
    /// <summary>The mapping for <paramref name="image"/>: an exact reference first, then its repository (any tag or digest).</summary>
    public ImageMapping? Find(string image)
    {
        var repository = Repository(image);
        return mappings.FirstOrDefault(m => m.Image == image) ?? mappings.FirstOrDefault(m => m.Image == repository);
    }

    /// <summary>The host argv for a container; throws <see cref="UnmappableImageException"/> when nothing runs its image.</summary>
    /// <param name="localize">
    /// Maps the container's own command and args (container paths, 0.0.0.0) to the host; never the mapping's entrypoint or
    /// stand-in command, which are host paths already (a build under /tmp must not be read as a path in the pod's /tmp).
    /// </param>
    public IReadOnlyList<string> Argv(string container, string image, IList<string>? command, IList<string>? args, IReadOnlyDictionary<string, string> env,
        Func<string, string>? localize = null)
    {
        localize ??= static a => a;
        var mapping = Find(image) ?? throw new UnmappableImageException(
            $"image \"{image}\" of container \"{container}\" has no local command in the node agent's image mapping (NodeAgent:Images); " +
            $"add an entry for \"{Repository(image)}\" that names its entrypoint or a command standing in for it");
        if (mapping.Command is { Count: > 0 } replacement)
        {
            return replacement.Select(a => EnvExpansion.Expand(a, env)).ToList();
        }

        List<string> argv;
        var entrypoint = 0;
        if (command is { Count: > 0 })
        {
            if (!mapping.HostCommands)
            {
                throw new UnmappableImageException(
                    $"container \"{container}\" sets command [{string.Join(' ', command)}], a program inside image \"{image}\"; the node agent's mapping " +
                    $"for \"{mapping.Image}\" neither sets Command (a local stand-in) nor HostCommands (run it on the host as written)");
            }

            argv = [.. command];
        }
        else
        {
            argv = [.. mapping.Entrypoint];
            entrypoint = argv.Count;
        }

        argv.AddRange(args ?? []);
        if (argv.Count == 0)
        {
            throw new UnmappableImageException($"image \"{image}\" of container \"{container}\" maps to an empty entrypoint and the container sets no command");
        }

        return argv.Select((a, i) => i < entrypoint ? EnvExpansion.Expand(a, env) : localize(EnvExpansion.Expand(a, env))).ToList();
    }

    /// <summary>"ghcr.io/a/b:1.0" and "ghcr.io/a/b@sha256:..." → "ghcr.io/a/b" (a registry port's colon stays).</summary>
    public static string Repository(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0) image = image[..at];
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? image[..colon] : image;
    }
}

/// <summary>Kubernetes' $(VAR) expansion in command, args and env values: defined names expand, $$ escapes, others stay.</summary>
internal static class EnvExpansion
{
    public static string Expand(string input, IReadOnlyDictionary<string, string> env)
    {
        if (!input.Contains('$', StringComparison.Ordinal)) return input;
        var result = new System.Text.StringBuilder(input.Length);
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] != '$' || i + 1 >= input.Length)
            {
                result.Append(input[i]);
                continue;
            }

            var next = input[i + 1];
            if (next == '$')
            {
                result.Append('$');
                i++;
                continue;
            }

            var close = next == '(' ? input.IndexOf(')', i + 2) : -1;
            if (close > 0)
            {
                var name = input[(i + 2)..close];
                if (env.TryGetValue(name, out var value))
                {
                    result.Append(value);
                    i = close;
                    continue;
                }
            }

            result.Append('$');
        }

        return result.ToString();
    }
}
