using System.CommandLine;
using Microsoft.Extensions.Configuration;

namespace GruServer.Hosting;

/// <summary>The <c>GruServer</c> command line: one flag per <see cref="ServerSettings"/> entry, each with a
/// GRU_* environment variable; a flag given on the command line wins over its variable.</summary>
internal static class ServerCommand
{
    /// <summary>The command; <paramref name="errors"/> receives setting problems (stderr unless a test captures them).</summary>
    public static RootCommand Create(Func<GruServerOptions, CancellationToken, Task<int>> run, TextWriter? errors = null)
    {
        var errorOutput = errors ?? Console.Error;
        var root = new RootCommand(
            "GruServer: serves an ONNX GRU model over the Open Inference Protocol (v2, HTTP/JSON) with Prometheus metrics.\n" +
            "Every flag can also be set with the environment variable shown; flags win.");
        var flags = new List<(ServerSetting Setting, Option<string> Option)>();
        foreach (var setting in ServerSettings.All)
        {
            var option = new Option<string>(setting.Flag)
            {
                Description = $"{setting.Description} [env {setting.EnvironmentVariable}{(setting.Default is null ? "" : $", default {setting.Default}")}]",
                HelpName = setting.Flag.TrimStart('-'),
            };
            root.Options.Add(option);
            flags.Add((setting, option));
        }

        root.SetAction(async (parse, cancellationToken) =>
        {
            var explicitFlags = flags
                .Where(f => parse.GetResult(f.Option) is { Implicit: false })
                .ToDictionary(f => f.Setting.Key, f => parse.GetValue(f.Option));
            var configuration = new ConfigurationBuilder()
                .AddEnvironmentVariables(ServerSettings.EnvironmentPrefix)
                .AddInMemoryCollection(explicitFlags)
                .Build();
            var (options, problems) = GruServerOptions.Parse(configuration);
            if (options is null)
            {
                foreach (var error in problems)
                {
                    await errorOutput.WriteLineAsync($"GruServer: {error}").ConfigureAwait(false);
                }

                await errorOutput.WriteLineAsync("GruServer: see --help for every setting.").ConfigureAwait(false);
                return 2;
            }

            return await run(options, cancellationToken).ConfigureAwait(false);
        });
        return root;
    }
}
