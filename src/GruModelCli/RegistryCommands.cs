using System.CommandLine;
using GruOnnx.Reading;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruRegistry.Tls;
using GruServing.Contract.Models;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace GruModelCli;

/// <summary>
/// <c>gru-model push | pull | inspect</c>: publish a model file as an OCI artifact and get it back, verified.
/// Credentials: --username with --password-stdin or GRU_REGISTRY_PASSWORD (or GRU_REGISTRY_USERNAME), else the
/// Docker config file (--docker-config, $DOCKER_CONFIG/config.json or ~/.docker/config.json) as docker login writes it.
/// </summary>
internal static class RegistryCommands
{
    /// <summary>Files at least this large get a progress bar (when stdout is a terminal).</summary>
    private const long ProgressBarThreshold = 8L << 20;

    /// <summary>How long an https:// download may go without a byte before it is given up (the kubelet retries the container).</summary>
    private static readonly TimeSpan HttpsStallTimeout = TimeSpan.FromSeconds(60);

    public static IEnumerable<Command> Create() => [Push(), Pull(), Inspect()];

    private static Command Push()
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx file to publish." };
        var reference = new Argument<string>("reference") { Description = "Where to publish: oci://host[:port]/repository:tag." };
        var name = new Option<string?>("--name") { Description = "Model name stored in the artifact's config; default: the file name without .onnx." };
        var mountFrom = new Option<string?>("--mount-from") { Description = "A repository of the same registry that may already hold the file: mounted instead of uploaded." };
        var flags = new RegistryFlags();
        var command = new Command("push", "Publishes an ONNX model as an OCI artifact (artifactType application/vnd.gru.model.v1) and prints its digest.")
        {
            model, reference, name, mountFrom,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(parse, flags, reference, async (target, client) =>
        {
            var file = parse.GetValue(model)!;
            if (!file.Exists)
            {
                throw new CommandException($"the model file '{file.FullName}' does not exist");
            }

            if (target.Tag is null || target.Digest is not null)
            {
                throw new CommandException($"'{target}': push publishes under a tag; give oci://host/repository:tag without @sha256");
            }

            OnnxSignature signature;
            try
            {
                signature = await OnnxSignature.ReadAsync(file.FullName, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException ex)
            {
                throw new CommandException(ex.Message + "; only ONNX models can be pushed");
            }

            var config = new ModelConfig(
                parse.GetValue(name) ?? Path.GetFileNameWithoutExtension(file.Name),
                signature.Producer,
                signature.Inputs.Select(t => new TensorSignature(t.Name, t.DataType, t.Shape)).ToList(),
                signature.Outputs.Select(t => new TensorSignature(t.Name, t.DataType, t.Shape)).ToList(),
                signature.Gru is { } g ? new GruShape(g.InputSize, g.HiddenSize, g.Layers, g.Direction, g.LinearBeforeReset) : null);
            var pushed = await WithProgressAsync("push", file.Length,
                progress => client.PushAsync(file.FullName, config, target, parse.GetValue(mountFrom), progress, cancellationToken)).ConfigureAwait(false);
            var how = pushed.LayerOutcome switch
            {
                BlobPushOutcome.Existed => "already in the repository",
                BlobPushOutcome.Mounted => $"mounted from {parse.GetValue(mountFrom)}",
                BlobPushOutcome.UploadedChunked => "uploaded in chunks",
                _ => "uploaded",
            };
            Console.WriteLine($"pushed {target}");
            Console.WriteLine($"  layer {pushed.LayerDigest} ({pushed.LayerSize} bytes, {how})");
            Console.WriteLine($"digest: {pushed.ManifestDigest}");
            Console.WriteLine(pushed.Reference);
        }, cancellationToken));
        return command;
    }

    private static Command Pull()
    {
        var reference = new Argument<string>("reference")
        {
            Description = "oci://host[:port]/repository:tag, oci://host[:port]/repository@sha256:<digest>, or https://host/path/model.onnx (needs --sha256).",
        };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Where to write the ONNX file (replaced only once the download is verified).", Required = true };
        var sha256 = new Option<string?>("--sha256")
        {
            Description = "The file's sha256 (64 hex digits as sha256sum prints them, optionally sha256:): required for https://, checked against the layer for oci://.",
        };
        var flags = new RegistryFlags();
        var command = new Command("pull", "Downloads a model's ONNX file, verifying its sha256 as it streams; a corrupted download is refused and removed. " +
            "The operator's model-fetcher init container runs it for https:// sources.")
        {
            reference, output, sha256,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var text = parse.GetValue(reference)!;
            if (text.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                return ReportErrorsAsync(() => PullHttpsAsync(parse, flags, text, parse.GetValue(sha256), parse.GetValue(output)!.FullName, cancellationToken));
            }

            return RunAsync(parse, flags, reference, async (source, client) =>
            {
                var expected = parse.GetValue(sha256) is { } given ? ParseSha256(given) : (Sha256Digest?)null;
                var resolved = await client.ResolveAsync(source, cancellationToken).ConfigureAwait(false);
                if (expected is { } digest && digest != resolved.LayerDigest)
                {
                    throw new CommandException($"--sha256 {digest.Hex} is not the model file of {resolved.Reference}, whose layer is {resolved.LayerDigest}");
                }

                var path = parse.GetValue(output)!.FullName;
                var bytes = await WithProgressAsync("pull", resolved.Layer.Size,
                    progress => client.PullAsync(resolved, path, progress, cancellationToken)).ConfigureAwait(false);
                Console.WriteLine($"pulled {resolved.Reference}");
                Console.WriteLine($"  wrote {path} ({bytes} bytes, {resolved.LayerDigest} verified)");
            }, cancellationToken);
        });
        return command;
    }

    /// <summary>An https:// model file, pinned by --sha256 (nothing else proves what arrived); the registry flags do not apply.</summary>
    private static async Task PullHttpsAsync(ParseResult parse, RegistryFlags flags, string text, string? sha256, string path, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var source) || source.Scheme != Uri.UriSchemeHttps || string.IsNullOrEmpty(source.Host))
        {
            throw new CommandException($"'{RedactedUri.Of(text)}' is not an https:// URL; models are fetched over https:// (or pulled from oci://), never plain http");
        }

        if (string.IsNullOrEmpty(sha256))
        {
            throw new CommandException($"pulling {RedactedUri.Of(source.ToString())} needs --sha256 <the file's sha256, as sha256sum prints it>: nothing else proves what arrived");
        }

        if (parse.GetValue(flags.PlainHttp) || parse.GetValue(flags.Username) is not null || parse.GetValue(flags.PasswordStdin) || parse.GetValue(flags.DockerConfig) is not null)
        {
            throw new CommandException("--plain-http, --username, --password-stdin and --docker-config are for oci:// registries; an https:// pull takes only --ca-file");
        }

        var expected = ParseSha256(sha256);
        if (parse.GetValue(flags.CaFile) is { Exists: false } missing)
        {
            throw new CommandException($"--ca-file '{missing.FullName}' does not exist");
        }

        using var handler = CustomCertificateAuthority.Handler(parse.GetValue(flags.CaFile)?.FullName);
        var download = new HttpsModelDownload(handler, HttpsStallTimeout);
        var bytes = await WithProgressAsync("pull", 0, progress => download.DownloadAsync(source, expected, path, progress, cancellationToken)).ConfigureAwait(false);
        Console.WriteLine($"pulled {RedactedUri.Of(source.ToString())}");
        Console.WriteLine($"  wrote {path} ({bytes} bytes, {expected} verified)");
    }

    private static Sha256Digest ParseSha256(string text)
    {
        var trimmed = text.Trim();
        var canonical = trimmed.StartsWith("sha256:", StringComparison.Ordinal) ? trimmed : "sha256:" + trimmed;
        return Sha256Digest.TryParse(canonical, out var digest, out _)
            ? digest
            : throw new CommandException($"--sha256 '{text}' is not a sha256: give the 64 lowercase hex digits sha256sum prints (optionally prefixed sha256:)");
    }

    private static Command Inspect()
    {
        var reference = new Argument<string>("reference") { Description = "oci://host[:port]/repository:tag or oci://host[:port]/repository@sha256:<digest>." };
        var flags = new RegistryFlags();
        var command = new Command("inspect", "Prints a model's manifest digest, layer digest and size, and its config, without downloading the model.")
        {
            reference,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(parse, flags, reference, async (source, client) =>
        {
            var resolved = await client.ResolveAsync(source, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"reference: {resolved.Reference}");
            Console.WriteLine($"manifest:  {resolved.ManifestDigest}");
            Console.WriteLine($"layer:     {resolved.LayerDigest}");
            Console.WriteLine($"size:      {resolved.Layer.Size} bytes");
            Console.WriteLine("config:");
            Console.WriteLine(resolved.Config.ToIndentedJson());
        }, cancellationToken));
        return command;
    }

    private static Task<int> RunAsync(
        ParseResult parse, RegistryFlags flags, Argument<string> reference, Func<OciReference, ModelArtifactClient, Task> run, CancellationToken cancellationToken) =>
        ReportErrorsAsync(async () =>
        {
            var text = parse.GetValue(reference)!;
            if (!OciReference.TryParse(text, out var target, out var error))
            {
                throw new CommandException(error);
            }

            var credentials = await flags.CredentialsAsync(parse, target.Registry, cancellationToken).ConfigureAwait(false);
            await using var services = new ServiceCollection()
                .AddLogging()
                .AddRegistryClient(o =>
                {
                    if (parse.GetValue(flags.PlainHttp))
                    {
                        o.PlainHttpRegistries.Add(target.Registry);
                    }

                    o.CaCertificateFile = parse.GetValue(flags.CaFile)?.FullName;
                })
                .BuildServiceProvider();
            var client = new ModelArtifactClient(services.GetRequiredService<DistributionClientFactory>().Create(credentials));
            await run(target, client).ConfigureAwait(false);
        });

    /// <summary>The one place a command's failures become one line on stderr and an exit code: 2 for usage, 1 for the rest.</summary>
    private static async Task<int> ReportErrorsAsync(Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
            return 0;
        }
        catch (CommandException ex)
        {
            await Console.Error.WriteLineAsync($"gru-model: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (RegistryException ex)
        {
            await Console.Error.WriteLineAsync($"gru-model: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"gru-model: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
    }

    /// <summary>Runs <paramref name="work"/> under a Spectre.Console progress bar when stdout is a terminal and the file is large.</summary>
    private static async Task<T> WithProgressAsync<T>(string verb, long size, Func<IProgress<long>?, Task<T>> work)
    {
        if (Console.IsOutputRedirected || size < ProgressBarThreshold)
        {
            return await work(null).ConfigureAwait(false);
        }

        var result = default(T)!;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(verb, maxValue: size);
                result = await work(new ProgressTaskReporter(task)).ConfigureAwait(false);
                task.Value = size;
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Sets the bar's value on the reporting thread (Progress&lt;T&gt; would post every report to the thread pool).</summary>
    private sealed class ProgressTaskReporter(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }
}

/// <summary>The registry flags every registry command takes, and how they become credentials.</summary>
internal sealed class RegistryFlags
{
    public Option<string?> Username { get; } = new("--username", "-u") { Description = "Registry user; default: $GRU_REGISTRY_USERNAME." };

    public Option<bool> PasswordStdin { get; } = new("--password-stdin") { Description = "Read the password (or token) from stdin; default: $GRU_REGISTRY_PASSWORD." };

    public Option<FileInfo?> DockerConfig { get; } = new("--docker-config") { Description = "Docker config.json (or a Secret's .dockerconfigjson) with \"auths\"; default: $DOCKER_CONFIG/config.json, then ~/.docker/config.json." };

    public Option<bool> PlainHttp { get; } = new("--plain-http") { Description = "Talk plain http to this registry (a local or trusted-network registry only)." };

    public Option<FileInfo?> CaFile { get; } = new("--ca-file") { Description = "PEM file of CA certificates to trust for a registry with a private CA." };

    public void AddTo(Command command)
    {
        command.Options.Add(Username);
        command.Options.Add(PasswordStdin);
        command.Options.Add(DockerConfig);
        command.Options.Add(PlainHttp);
        command.Options.Add(CaFile);
    }

    /// <summary>Explicit user/password wins over the Docker config file; neither means anonymous.</summary>
    public async Task<RegistryCredentials> CredentialsAsync(ParseResult parse, string registry, CancellationToken cancellationToken)
    {
        var fromFile = RegistryCredentials.Anonymous;
        var configFile = parse.GetValue(DockerConfig)?.FullName ?? DefaultDockerConfig();
        if (parse.GetValue(DockerConfig) is { Exists: false } missing)
        {
            throw new CommandException($"--docker-config '{missing.FullName}' does not exist");
        }

        if (configFile is not null && File.Exists(configFile))
        {
            fromFile = RegistryCredentials.FromDockerConfigJson(await File.ReadAllTextAsync(configFile, cancellationToken).ConfigureAwait(false), configFile);
        }

        var username = parse.GetValue(Username) ?? Environment.GetEnvironmentVariable("GRU_REGISTRY_USERNAME");
        if (string.IsNullOrEmpty(username))
        {
            return fromFile;
        }

        var password = parse.GetValue(PasswordStdin)
            ? (await Console.In.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).TrimEnd('\r', '\n')
            : Environment.GetEnvironmentVariable("GRU_REGISTRY_PASSWORD");
        if (string.IsNullOrEmpty(password))
        {
            throw new CommandException($"a registry user '{username}' is given without a password: pass --password-stdin or set GRU_REGISTRY_PASSWORD");
        }

        return fromFile.Merge(RegistryCredentials.For(registry, username, password));
    }

    private static string? DefaultDockerConfig()
    {
        if (Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } directory)
        {
            return Path.Combine(directory, "config.json");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".docker", "config.json");
    }
}

/// <summary>A usage error: the command line or a local file is wrong (exit code 2).</summary>
internal sealed class CommandException(string message) : Exception(message);
