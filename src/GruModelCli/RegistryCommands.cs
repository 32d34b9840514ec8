using System.CommandLine;
using GruOnnx.Reading;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
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
        var reference = new Argument<string>("reference") { Description = "oci://host[:port]/repository:tag or oci://host[:port]/repository@sha256:<digest>." };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Where to write the ONNX file (replaced only once the download is verified).", Required = true };
        var flags = new RegistryFlags();
        var command = new Command("pull", "Downloads a model's ONNX file, verifying its sha256 as it streams; a corrupted download is refused and removed.")
        {
            reference, output,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(parse, flags, reference, async (source, client) =>
        {
            var resolved = await client.ResolveAsync(source, cancellationToken).ConfigureAwait(false);
            var path = parse.GetValue(output)!.FullName;
            var bytes = await WithProgressAsync("pull", resolved.Layer.Size,
                progress => client.PullAsync(resolved, path, progress, cancellationToken)).ConfigureAwait(false);
            Console.WriteLine($"pulled {resolved.Reference}");
            Console.WriteLine($"  wrote {path} ({bytes} bytes, {resolved.LayerDigest} verified)");
        }, cancellationToken));
        return command;
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

    private static async Task<int> RunAsync(
        ParseResult parse, RegistryFlags flags, Argument<string> reference, Func<OciReference, ModelArtifactClient, Task> run, CancellationToken cancellationToken)
    {
        try
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
