using System.CommandLine;
using GruServer.Hosting;

// System.CommandLine's own SIGTERM handling would exit before in-flight requests finish; the web host
// handles SIGTERM gracefully instead.
var command = ServerCommand.Create(GruServerHost.RunAsync);
return await command.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
