# Update a web UI safely: check, update, repair - in that order, stopping at the first problem.
#
#   powershell -ExecutionPolicy Bypass -File scripts\update-webui.ps1 [-Dir APP_DIR] [-Repair "repair"]
#   powershell -ExecutionPolicy Bypass -File scripts\update-webui.ps1 -Help   (also --help, -h, /?)
#
# 1. repair check --pre-update   fetches upstream, predicts what the update changes, makes sure a
#                                snapshot exists; exit 1 when the update would break or be refused
# 2. git pull --ff-only          the update itself (never a merge)
# 3. repair --yes                repairs what the update changed (new requirements, ...)
param(
    [string]$Dir = ".",
    [string]$Repair = "repair",
    [switch]$Help
)
if ($Help -or $Dir -in "--help", "-h", "/?") {
    Get-Content $PSCommandPath | Select-Object -Skip 1 -First 8 | ForEach-Object { $_ -replace "^# ?", "" }
    exit 0
}
$parts = $Repair -split " "
$exe = $parts[0]
$pre = @()
if ($parts.Length -gt 1) { $pre = $parts[1..($parts.Length - 1)] }

Write-Host "==> 1/3 checking $Dir before the update"
& $exe @pre check --pre-update --dir $Dir
if ($LASTEXITCODE -ne 0) {
    Write-Error "update-webui: the pre-update check found problems; nothing was updated"
    exit 1
}
Write-Host "==> 2/3 updating"
git -C $Dir pull --ff-only
if ($LASTEXITCODE -ne 0) {
    Write-Error "update-webui: git pull failed; the check passed, so look at git's message above"
    exit 2
}
Write-Host "==> 3/3 repairing what the update changed"
& $exe @pre --yes --dir $Dir
$rc = $LASTEXITCODE
if ($rc -eq 3) { Write-Host "update-webui: done; restart the web UI"; exit 0 }
if ($rc -ne 0) { Write-Error "update-webui: the repair after the update failed (exit $rc)" }
else { Write-Host "update-webui: done" }
exit $rc
