using System.CommandLine;
using GruServer.Hosting;

var command = ServerCommand.Create(GruServerHost.RunAsync);
var parse = command.Parse(args);
if (parse.Errors.Count > 0)
{
    // Unknown or malformed flags exit 2 like invalid settings do, in one line each, instead of the full help text.
    foreach (var error in parse.Errors)
    {
        await Console.Error.WriteLineAsync($"GruServer: {error.Message}").ConfigureAwait(false);
    }

    await Console.Error.WriteLineAsync("GruServer: see --help for every setting.").ConfigureAwait(false);
    return 2;
}

// System.CommandLine's own SIGTERM handling would exit before in-flight requests finish; the web host
// handles SIGTERM gracefully instead.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
