using Microsoft.Extensions.Hosting;

namespace Kube.Local;

/// <summary>
/// An embedded server must not take over the process's Ctrl-C/SIGTERM handling (ConsoleLifetime would);
/// the owner (a test, or Program through its command line's cancellation) decides when to stop.
/// </summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
