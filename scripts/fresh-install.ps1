# From a Windows machine with only Python (and git) to a working web UI:
#   powershell -ExecutionPolicy Bypass -File fresh-install.ps1 [-ToolSource PATH] [-ToolVenv DIR] APP --dir PATH [options]
# Makes a private venv for webui-repair (default %LOCALAPPDATA%\webui-repair\venv), installs the
# tool into it (from PyPI, or from a local checkout given with -ToolSource), then runs
# `repair install` with the remaining arguments.
param(
    [string]$ToolSource = "webui-repair",
    [string]$ToolVenv = (Join-Path $env:LOCALAPPDATA "webui-repair\venv"),
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$RepairArgs
)
$ErrorActionPreference = "Stop"

function Find-Python {
    if ($env:PYTHON) { return $env:PYTHON }
    foreach ($v in "3.10", "3.11", "3.12", "3.13") {
        if (Get-Command py -ErrorAction SilentlyContinue) {
            $exe = & py "-$v" -c "import sys; print(sys.executable)" 2>$null
            if ($LASTEXITCODE -eq 0 -and $exe) { return $exe.Trim() }
        }
    }
    foreach ($name in "python", "python3") {
        $cmd = Get-Command $name -ErrorAction SilentlyContinue
        if ($cmd -and $cmd.Source -notlike "*WindowsApps*") { return $cmd.Source }
    }
    return $null
}

$python = Find-Python
if (-not $python) {
    Write-Error "fresh-install: no Python found: install Python 3.10 (python.org) first"
    exit 2
}
if (-not (Get-Command git -ErrorAction SilentlyContinue)) {
    Write-Error "fresh-install: git is not installed: install Git for Windows first"
    exit 2
}
$toolPython = Join-Path $ToolVenv "Scripts\python.exe"
if (-not (Test-Path $toolPython)) {
    Write-Host "==> creating the tool's own venv in $ToolVenv"
    & $python -m venv $ToolVenv
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
Write-Host "==> installing webui-repair ($ToolSource)"
& $toolPython -m pip install --quiet --disable-pip-version-check --upgrade $ToolSource
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "==> repair install $RepairArgs"
& $toolPython -m repair install @RepairArgs
exit $LASTEXITCODE
