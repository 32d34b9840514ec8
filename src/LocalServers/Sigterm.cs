using System.Runtime.InteropServices;

namespace LocalServers;

/// <summary>SIGTERM to one process, as the kubelet stops a container: the BCL can only SIGKILL. Shared by the
/// launchers that test graceful shutdown (the operator, GruServer).</summary>
public static partial class Sigterm
{
    private const int Signal = 15;
    private const int NoSuchProcess = 3; // ESRCH: it exited in the meantime, which is what SIGTERM asks for anyway.

    /// <param name="what">Names the process in the error, e.g. "GruServer".</param>
    public static void Send(int pid, string what)
    {
        if (kill(pid, Signal) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != NoSuchProcess)
        {
            throw new InvalidOperationException($"kill(SIGTERM) on {what} (pid {pid}) failed: errno {errno}");
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
